"""Request timeouts and retries on the local mesh, through real Envoy sidecars."""

from __future__ import annotations

import math

import pytest
from stats import assert_split

from istiolab import manifests

from .harness import Z999, gateway

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."

# Seed 000 "Retries" (my-service: attempts 3, perTryTimeout 2s), with the flaky external
# host instead of my-service, and the retryOn the case under test.
SEED_RETRIES = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: flaky
spec:
  hosts:
  - {host}
  http:
  - route:
    - destination:
        host: {host}
    retries:
      attempts: 3 # number of times to try
      perTryTimeout: 2s # interval between each try
      retryOn: {retry_on}
"""


def service_entry(name: str, host: str, address: str, port: int) -> str:
    return f"""\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: {name}
spec:
  hosts:
  - {host}
  ports:
  - number: {port}
    name: http
    protocol: HTTP
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints:
  - address: {address}
"""


def test_reviews_timeout_half_a_second_with_slow_ratings(clean):
    """Istio task "Request Timeouts": ratings delayed 2 s, reviews (v2) with `timeout: 0.5s`;
    productpage answers in about 1 s (its one retry of reviews: 2 x 0.5 s) with "Sorry,
    product reviews are currently unavailable for this book."; productpage's sidecar logs
    both tries as 504 UT (upstream request timeout)."""
    mesh = clean
    mesh.apply(
        manifests.destination_rules()
        + manifests.traffic_preset("timeout", timeout="0.5s", ratings_delay="2s")
    )
    before = len(mesh.log_lines("productpage-v1", "/reviews/0", " 504 UT "))
    status, _, body, elapsed = gateway("/productpage")
    assert status == 200 and REVIEWS_UNAVAILABLE in body
    assert 0.95 <= elapsed < 1.8, elapsed
    lines = mesh.wait_log("productpage-v1", "/reviews/0", " 504 UT ", count=before + 2)
    assert len(lines) == before + 2
    assert all("outbound|9080|v2|reviews.default.svc.cluster.local" in ln for ln in lines)

    # without the timeout, the same delay only slows the page down (2 s, reviews v2 shown)
    mesh.apply(manifests.traffic_preset("weighted", subsets=("v2",), weights=(100,)))
    status, _, body, elapsed = gateway("/productpage")
    assert status == 200 and REVIEWS_UNAVAILABLE not in body, (
        elapsed,
        mesh.access_log("productpage-v1")[-3000:],
    )
    assert 'color="black"' in body
    assert 1.95 <= elapsed < 3.0, elapsed


@pytest.mark.parametrize("retry_on", ["5xx", "retriable-status-codes,503"])
def test_retries_turn_a_flaky_upstream_into_success(clean, external, retry_on):
    """Seed 000 "Retries" / Istio "Retries" concept: an upstream answering 503 to the first
    two attempts of every request succeeds through `retries.attempts: 3` (retryOn `5xx`, or
    `retriable-status-codes` with the code 503); the sidecar's
    `upstream_rq_retry` counts the two retries of each request."""
    mesh = clean
    server = external(label="flaky", fail_first=2)
    ip, port = server.address
    host = "flaky.external.test"
    cluster = f"cluster.outbound|{port}||{host}"
    mesh.apply_yaml(service_entry("flaky", host, ip, port))

    # Istio's default retry policy does not retry a 503 answer
    response = mesh.send("sleep", f"http://{host}:{port}/default")
    assert response.status == 503
    assert len(server.paths("/default")) == 1

    mesh.apply_yaml(SEED_RETRIES.format(host=host, retry_on=retry_on))
    retried = mesh.stat("sleep", f"{cluster}.upstream_rq_retry")
    n = 5
    for i in range(n):
        response = mesh.send("sleep", f"http://{host}:{port}/retried/{i}")
        assert response.status == 200, response
        assert response.json()["attempt"] == 3
        assert len(server.paths(f"/retried/{i}")) == 3
    assert mesh.stat("sleep", f"{cluster}.upstream_rq_retry") - retried == 2 * n
    assert mesh.stat("sleep", f"{cluster}.upstream_rq_retry_success") >= n


def test_retries_exhausted_on_httpbin_status_503(clean):
    """Istio task "Retries" shape on httpbin: `/status/503` always fails, so attempts: 3
    gives 4 tries and the client sees 503 with response flag URX (retry limit exceeded)."""
    mesh = clean
    mesh.apply(
        [
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "httpbin", "namespace": "default"},
                "spec": {
                    "hosts": ["httpbin"],
                    "http": [
                        {
                            "route": [{"destination": {"host": "httpbin"}}],
                            "retries": {"attempts": 3, "retryOn": "5xx", "perTryTimeout": "2s"},
                        }
                    ],
                },
            }
        ]
    )
    name = "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_retry"
    retried = mesh.stat("sleep", name)
    served = len(mesh.log_lines("httpbin-v1", "/status/503", " 503 "))
    response = mesh.send("sleep", "http://httpbin:8000/status/503")
    assert response.status == 503
    assert mesh.stat("sleep", name) - retried == 3
    mesh.wait_log("sleep", "/status/503", " 503 URX ")
    lines = mesh.wait_log("httpbin-v1", "/status/503", " 503 ", count=served + 4)
    assert len(lines) == served + 4  # 1 try + 3 retries reached httpbin's sidecar


def faulty_ratings() -> list[dict]:
    """Bookinfo's ratings-v1 run as the samples' `ratings-v-faulty` (SERVICE_VERSION=v-faulty):
    half of its answers are 503."""
    objects = [o for o in manifests.bookinfo() if o["metadata"]["name"] == "ratings-v1"]
    container = objects[0]["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "SERVICE_VERSION", "value": "v-faulty"}]
    return objects


def test_retries_hide_a_faulty_ratings_pod(clean):
    """Istio "Retries" on Bookinfo's faulty ratings (ratings-v-faulty answers 503 half of
    the time): without a retry policy about 50 % of the calls fail (Istio's default policy
    does not retry a 503); with the `retries` preset (attempts 3, retryOn 5xx) only calls
    whose 4 tries all fail do, p = 1/16; both within binomial 99 % intervals, and the
    sidecar's `upstream_rq_retry` counts the retries."""
    mesh = clean
    mesh.apply(faulty_ratings() + manifests.destination_rules(services=("ratings",)))
    url = "http://ratings:9080/ratings/0"
    n = 200
    assert_split(lambda n: mesh.load("sleep", url, n, 4)["codes"], n, {"200": 0.5, "503": 0.5})

    mesh.apply(manifests.traffic_preset("retries", attempts=3, retry_on="5xx"))
    name = "cluster.outbound|9080|v1|ratings.default.svc.cluster.local.upstream_rq_retry"
    retries: list[int] = []

    def draw(n: int) -> dict:
        before = mesh.stat("sleep", name)
        codes = mesh.load("sleep", url, n, 4)["codes"]
        retries.append(mesh.stat("sleep", name) - before)
        return codes

    codes = assert_split(draw, n, {"200": 15 / 16, "503": 1 / 16})
    # a call is retried until a try succeeds, 3 times at most: 0, 1, 2, 3 retries with
    # p = 1/2, 1/4, 1/8, 1/8 (mean 7/8, variance 71/64), summed over the n calls
    half = Z999 * math.sqrt(n * 71 / 64)
    assert n * 7 / 8 - half <= retries[-1] <= n * 7 / 8 + half, retries
    assert retries[-1] >= 3 * codes.get("503", 0)
