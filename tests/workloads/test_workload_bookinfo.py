"""Bookinfo as real processes on loopback (direct mode, names resolved with ISTIOLAB_HOSTS)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from wl_helpers import bookinfo_hosts, new_ip

from istiolab.workloads import bookinfo
from istiolab.workloads.client import send

IMG = "docker.io/istio/examples-bookinfo-{}:1.20.2"
RATINGS_JSON = {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}


def reviews_json(pod: str, ratings: bool = True) -> bytes:
    reviews = [{"reviewer": "Reviewer1", "text": "x"}, {"reviewer": "Reviewer2", "text": "y"}]
    if ratings:
        reviews[0]["rating"] = {"stars": 5, "color": "black"}
    body = {"id": "0", "podname": pod, "clustername": "null", "reviews": reviews}
    return json.dumps(body).encode()


@pytest.fixture
def bookinfo_app(start):
    """``bookinfo_app(reviews_version)``: the four real services, wired by hosts map."""

    def _make(version: str = "v1", reviews_pod: str = "reviews-v1-5fd6d4f8f8-lmpl5"):
        ips = {s: new_ip() for s in ("productpage", "details", "reviews", "ratings")}
        hosts = bookinfo_hosts(**ips)
        start(IMG.format("ratings-v1"), ip=ips["ratings"], hosts=hosts)
        start(IMG.format("details-v1"), ip=ips["details"], hosts=hosts)
        start(
            IMG.format(f"reviews-{version}"), ip=ips["reviews"], hosts=hosts, pod_name=reviews_pod
        )
        return start(IMG.format("productpage-v1"), ip=ips["productpage"], hosts=hosts)

    return _make


def test_productpage_v1_has_no_stars(bookinfo_app):
    pp = bookinfo_app("v1", "reviews-v1-5fd6d4f8f8-lmpl5")
    resp = send(f"{pp.url}/productpage")
    assert resp.status == 200
    page = resp.text
    assert "<title>Simple Bookstore App</title>" in page
    assert "The Comedy of Errors" in page
    assert "Book Details" in page and "<dt>ISBN-10:</dt>1234567890" in page
    assert "Book Reviews" in page
    assert "An extremely entertaining play by Shakespeare" in page
    assert "glyphicon glyphicon-star" not in page
    assert "Reviews served by:" in page and "<u>reviews-v1-5fd6d4f8f8-lmpl5</u>" in page
    assert 'name="login_form"' in page and 'name="username"' in page
    assert "Sign in" in page


@pytest.mark.parametrize(("version", "color"), [("v2", "black"), ("v3", "red")])
def test_productpage_stars_per_reviews_version(bookinfo_app, version, color):
    pp = bookinfo_app(version, f"reviews-{version}-abc-1")
    page = send(f"{pp.url}/productpage").text
    assert page.count(f'<font color="{color}">') == 2
    assert page.count('<span class="glyphicon glyphicon-star"></span>') == 9  # 5 + 4
    assert page.count('<span class="glyphicon glyphicon-star-empty"></span>') == 1
    assert f"<u>reviews-{version}-abc-1</u>" in page
    reviews = send(f"{pp.url}/api/v1/products/0/reviews").json()
    assert reviews["podname"] == f"reviews-{version}-abc-1"
    assert reviews["reviews"][0]["rating"] == {"stars": 5, "color": color}


def test_services_api_and_health(bookinfo_app):
    pp = bookinfo_app("v2")
    assert send(f"{pp.url}/health").text == "Product page is healthy"
    products = send(f"{pp.url}/api/v1/products").json()
    assert products[0]["id"] == 0 and products[0]["title"] == "The Comedy of Errors"
    details = send(f"{pp.url}/api/v1/products/0")
    assert details.status == 200
    assert details.json() == {
        "id": 0,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    }
    assert send(f"{pp.url}/api/v1/products/0/ratings").json() == RATINGS_JSON
    index = send(f"{pp.url}/").text
    assert "/productpage?u=normal" in index and "/productpage?u=test" in index
    assert send(f"{pp.url}/productpage?u=normal").status == 200
    assert send(f"{pp.url}/static/bootstrap/css/bootstrap.min.css").status == 200
    assert send(f"{pp.url}/static/nothing.js").status == 404
    assert send(f"{pp.url}/nope").status == 404


def test_details_reviews_ratings_endpoints(start):
    details = start(IMG.format("details-v1"))
    assert send(f"{details.url}/health").json() == {"status": "Details is healthy"}
    assert send(f"{details.url}/details/7").json()["id"] == 7
    bad = send(f"{details.url}/details/abc")
    assert (bad.status, bad.json()) == (400, {"error": "please provide numeric product id"})
    ratings = start(IMG.format("ratings-v1"))
    compact = b'{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}'
    assert send(f"{ratings.url}/ratings/0").body == compact
    assert send(f"{ratings.url}/health").json() == {"status": "Ratings is healthy"}
    assert send(f"{ratings.url}/ratings/x").status == 400
    posted = send(f"{ratings.url}/ratings/3", method="POST", data='{"Reviewer1": 1}')
    assert posted.json() == {"id": 3, "ratings": {"Reviewer1": 1}}
    assert send(f"{ratings.url}/ratings/3").json() == {"id": 3, "ratings": {"Reviewer1": 1}}
    reviews = start(IMG.format("reviews-v1"), pod_name="reviews-v1-x")
    assert send(f"{reviews.url}/health").json() == {"status": "Reviews is healthy"}
    body = send(f"{reviews.url}/reviews/0").json()
    assert body["id"] == "0" and body["clustername"] == "null"
    assert [r["reviewer"] for r in body["reviews"]] == ["Reviewer1", "Reviewer2"]
    assert all("rating" not in r for r in body["reviews"])


def test_login_sets_end_user_and_headers_are_forwarded(start, upstream):
    details = upstream(lambda r, i: (200, json.dumps({"type": "paperback"}).encode(), 0))
    reviews = upstream(lambda r, i: (200, reviews_json("reviews-v2-x"), 0))
    hosts = bookinfo_hosts(details=details.ip, reviews=reviews.ip)
    pp = start(IMG.format("productpage-v1"), hosts=hosts)

    login = send(
        f"{pp.url}/login",
        method="POST",
        data="username=jason&passwd=secret",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"{pp.url}/productpage",
        },
    )
    assert login.status == 302
    assert login.headers["location"] == f"{pp.url}/productpage"
    cookie = login.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("session=")

    trace = {
        "x-request-id": "f0e1d2c3-rid",
        "x-b3-traceid": "463ac35c9f6413ad",
        "x-b3-spanid": "a2fb4a1d1a96d312",
        "x-b3-parentspanid": "0020000000000001",
        "x-b3-sampled": "1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "x-datadog-trace-id": "12345",
    }
    page = send(f"{pp.url}/productpage", headers={"Cookie": cookie, **trace}).text
    assert "jason" in page and "sign out" in page
    for up in (details, reviews):
        seen = up.requests[-1].headers
        assert seen["end-user"] == "jason"
        for name, value in trace.items():
            assert seen[name] == value, name
        assert seen["cookie"] == cookie
        assert seen["host"] == ("details:9080" if up is details else "reviews:9080")
    assert details.requests[-1].target == "/details/0"
    assert reviews.requests[-1].target == "/reviews/0"

    # without a login, no end-user; without b3, productpage starts a sampled trace
    send(f"{pp.url}/productpage")
    seen = reviews.requests[-1].headers
    assert "end-user" not in seen
    assert len(seen["x-b3-traceid"]) == 16 and seen["x-b3-sampled"] == "1"

    # an end-user header sent by the caller is not forwarded: only the session sets it
    send(f"{pp.url}/productpage", headers={"end-user": "jason"})
    assert "end-user" not in reviews.requests[-1].headers

    logout = send(f"{pp.url}/logout", headers={"Cookie": cookie})
    assert logout.status == 302
    cleared = logout.headers["set-cookie"].split(";", 1)[0]
    send(f"{pp.url}/productpage", headers={"Cookie": cleared})
    assert "end-user" not in reviews.requests[-1].headers


def test_reviews_pass_end_user_and_trace_headers_to_ratings(start, upstream):
    ratings = upstream(lambda r, i: (200, json.dumps(RATINGS_JSON).encode(), 0))
    reviews = start(IMG.format("reviews-v2"), hosts=bookinfo_hosts(ratings=ratings.ip))
    headers = {"end-user": "jason", "x-request-id": "rid-1", "x-b3-traceid": "abc", "b3": "x-y-1"}
    body = send(f"{reviews.url}/reviews/0", headers=headers).json()
    assert body["reviews"][1]["rating"] == {"stars": 4, "color": "black"}
    seen = ratings.requests[-1]
    assert seen.target == "/ratings/0"
    assert seen.headers["host"] == "ratings:9080"
    for name, value in headers.items():
        assert seen.headers[name] == value


def test_details_failure_shows_error_fetching_product_details(start, upstream):
    reviews = upstream(lambda r, i: (200, reviews_json("reviews-v1-x", ratings=False), 0))
    dead = new_ip()  # nothing listens there: connection refused
    pp = start(IMG.format("productpage-v1"), hosts=bookinfo_hosts(details=dead, reviews=reviews.ip))
    page = send(f"{pp.url}/productpage").text
    assert "Error fetching product details" in page
    assert "Sorry, product details are currently unavailable for this book." in page
    assert "Book Reviews" in page
    api = send(f"{pp.url}/api/v1/products/0")
    assert api.status == 500
    assert api.json() == {"error": bookinfo.DETAILS_UNAVAILABLE}

    failing = upstream(lambda r, i: (503, b"no healthy upstream", 0))
    pp2 = start(
        IMG.format("productpage-v1"), hosts=bookinfo_hosts(details=failing.ip, reviews=reviews.ip)
    )
    assert "Error fetching product details" in send(f"{pp2.url}/productpage").text
    assert send(f"{pp2.url}/api/v1/products/0").status == 503
    assert len(failing.requests) == 2  # details is called once per page or API call


def test_reviews_unavailable_is_tried_twice(start, upstream):
    details = upstream(lambda r, i: (200, b'{"type": "paperback"}', 0))
    reviews = upstream(lambda r, i: (503, b"upstream connect error", 0))
    pp = start(
        IMG.format("productpage-v1"), hosts=bookinfo_hosts(details=details.ip, reviews=reviews.ip)
    )
    page = send(f"{pp.url}/productpage").text
    assert "Sorry, product reviews are currently unavailable for this book." in page
    assert "Error fetching product reviews" in page
    assert "Book Details" in page
    assert len(reviews.requests) == bookinfo.REVIEWS_TRIES == 2
    api = send(f"{pp.url}/api/v1/products/0/reviews")
    assert (api.status, api.json()) == (503, {"error": bookinfo.REVIEWS_UNAVAILABLE})

    # the second try's success is used
    flaky = upstream(lambda r, i: (503, b"", 0) if i == 0 else (200, reviews_json("rv"), 0))
    pp2 = start(
        IMG.format("productpage-v1"), hosts=bookinfo_hosts(details=details.ip, reviews=flaky.ip)
    )
    assert "<u>rv</u>" in send(f"{pp2.url}/productpage").text
    assert len(flaky.requests) == 2


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_ratings_down_gives_per_review_error(start, version):
    reviews = start(IMG.format(f"reviews-{version}"), hosts=bookinfo_hosts(ratings=new_ip()))
    resp = send(f"{reviews.url}/reviews/0")
    assert resp.status == 200
    ratings = [r["rating"] for r in resp.json()["reviews"]]
    assert ratings == [{"error": bookinfo.RATINGS_UNAVAILABLE}] * 2
    assert bookinfo.RATINGS_UNAVAILABLE == "Ratings service is currently unavailable"
    # and productpage shows it
    details_ip = new_ip()
    pp = start(
        IMG.format("productpage-v1"),
        hosts=bookinfo_hosts(reviews=reviews.ip, details=details_ip),
    )
    page = send(f"{pp.url}/productpage").text
    assert page.count("Ratings service is currently unavailable") == 2
    assert "glyphicon-star" not in page


def test_reviews_timeouts_towards_a_slow_ratings(start, upstream):
    """v3 gives up after 2.5 s; v2 (10 s timeout) waits for the same slow ratings."""
    delay = bookinfo.RATINGS_TIMEOUT_OTHER + 0.7
    slow = upstream(lambda r, i: (200, json.dumps(RATINGS_JSON).encode(), delay))
    v3 = start(IMG.format("reviews-v3"), hosts=bookinfo_hosts(ratings=slow.ip))
    v2 = start(IMG.format("reviews-v2"), hosts=bookinfo_hosts(ratings=slow.ip))
    results = {}

    def call(name, url):
        results[name] = send(f"{url}/reviews/0")

    threads = [threading.Thread(target=call, args=a) for a in (("v3", v3.url), ("v2", v2.url))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r3, r2 = results["v3"], results["v2"]
    assert r3.status == 200
    assert r3.json()["reviews"][0]["rating"] == {"error": bookinfo.RATINGS_UNAVAILABLE}
    assert bookinfo.RATINGS_TIMEOUT_OTHER - 0.1 <= r3.elapsed < delay
    assert r2.json()["reviews"][0]["rating"] == {"stars": 5, "color": "black"}
    assert r2.elapsed >= delay
    assert bookinfo.RATINGS_TIMEOUT_BLACK == 10.0


def test_productpage_gives_up_on_slow_reviews_after_two_timeouts(start, upstream):
    """The fault-injection task: a 7 s delay on reviews' path costs productpage 2 x 3 s."""
    details = upstream(lambda r, i: (200, b'{"type": "paperback"}', 0))
    slow = upstream(lambda r, i: (200, reviews_json("slow"), bookinfo.REVIEWS_TIMEOUT + 1))
    pp = start(
        IMG.format("productpage-v1"), hosts=bookinfo_hosts(details=details.ip, reviews=slow.ip)
    )
    t0 = time.perf_counter()
    page = send(f"{pp.url}/productpage").text
    elapsed = time.perf_counter() - t0
    assert "Sorry, product reviews are currently unavailable for this book." in page
    assert len(slow.requests) == 2
    expected = bookinfo.REVIEWS_TRIES * bookinfo.REVIEWS_TIMEOUT
    assert expected - 0.2 <= elapsed < expected + 1.5


def test_flood_factor_sends_extra_reviews_calls(start, upstream):
    details = upstream(lambda r, i: (200, b'{"type": "paperback"}', 0))
    reviews = upstream(lambda r, i: (200, reviews_json("rv"), 0))
    hosts = bookinfo_hosts(details=details.ip, reviews=reviews.ip)
    pp = start(IMG.format("productpage-v1"), hosts=hosts, env={"FLOOD_FACTOR": "3"})
    assert "<u>rv</u>" in send(f"{pp.url}/productpage").text
    assert len(reviews.requests) == 4 and len(details.requests) == 1


def test_ratings_service_version_faulty(start):
    ratings = start(IMG.format("ratings-v1"), env={"SERVICE_VERSION": "v-faulty"})
    codes = {send(f"{ratings.url}/ratings/0").status for _ in range(40)}
    assert codes == {200, 503}  # each call fails with probability 1/2: 2 * 0.5**40 to flake
