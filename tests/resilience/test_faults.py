"""Fault injection on the local mesh, end to end through real Envoy sidecars and gateway."""

from __future__ import annotations

import pytest
from stats import assert_split

from istiolab import manifests

from .harness import gateway, login

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"

# Seed 004 ("2.4 Fault injection"): abort with the deprecated integer `percent`, verbatim
# apart from the host (backend-app there, Bookinfo's ratings here).
SEED_ABORT_ALL = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: ratings
spec:
  hosts:
  - ratings
  http:
  - fault:
      abort:
        httpStatus: 500
        percent: 100
    route:
    - destination:
        host: ratings
      weight: 100
"""


def test_delay_for_jason_times_out_productpage_after_two_tries(clean):
    """Istio task "Fault Injection", injecting an HTTP delay fault: ratings delayed 7 s for
    end-user jason (virtual-service-ratings-test-delay); productpage gives up on reviews
    after its 3 s timeout and one retry (about 6 s); other users are unaffected."""
    mesh = clean
    mesh.apply(
        manifests.destination_rules()
        + manifests.traffic_preset("user-route")
        + manifests.traffic_preset("fault-delay", delay="7s", percent=100, user="jason")
    )
    status, _, body, elapsed = gateway("/productpage", headers=login("jason"))
    assert status == 200
    assert REVIEWS_UNAVAILABLE in body and "jason" in body
    assert 5.8 <= elapsed < 7.0, elapsed  # 2 x 3 s, well before the 7 s delay ends

    status, _, body, elapsed = gateway("/productpage")
    assert status == 200 and REVIEWS_UNAVAILABLE not in body and RATINGS_UNAVAILABLE not in body
    assert elapsed < 2.0, elapsed

    # reviews-v2's sidecar delayed both calls to ratings: flag DI on the subset v1 cluster
    lines = mesh.wait_log("reviews-v2", "/ratings/0", " DI ", count=2, timeout=15)
    assert all("outbound|9080|v1|ratings.default.svc.cluster.local" in ln for ln in lines)
    assert all(" 200 DI " in ln for ln in lines), lines


def test_abort_for_jason_shows_ratings_unavailable_at_once(clean):
    """Istio task "Fault Injection", injecting an HTTP abort fault: HTTP 500 on ratings for
    end-user jason (virtual-service-ratings-test-abort); the page loads at once with
    "Ratings service is currently unavailable"; anonymous users (reviews v1) see no error."""
    mesh = clean
    mesh.apply(
        manifests.destination_rules()
        + manifests.traffic_preset("user-route")
        + manifests.traffic_preset("fault-abort", status=500, percent=100, user="jason")
    )
    status, _, body, elapsed = gateway("/productpage", headers=login("jason"))
    assert status == 200
    assert body.count(RATINGS_UNAVAILABLE) == 2 and "jason" in body, body[-2000:]
    assert elapsed < 1.5, elapsed
    status, _, body, _ = gateway("/productpage")
    assert status == 200 and RATINGS_UNAVAILABLE not in body
    lines = mesh.wait_log("reviews-v2", "/ratings/0", " 500 FI ")
    assert "fault_filter_abort" in lines[-1]


def test_abort_half_of_the_requests_is_binomial_and_flagged_fi(clean):
    """Seed 000 "Fault Injection" (abort with `percentage`), at 50 %: from the sleep pod the
    share of HTTP 500 lies in the binomial 99 % interval (tests/stats.py's assert_split:
    one fresh sample allowed after a miss), and each abort is logged with
    response flag FI by the sleep sidecar (Envoy's fault filter, not ratings, answered)."""
    mesh = clean
    mesh.apply(
        manifests.destination_rules(services=("ratings",))
        + manifests.traffic_preset("fault-abort", status=500, percent=50, user=None)
    )
    before = len(mesh.log_lines("sleep", "/ratings/0", " 500 FI "))
    answered: list[dict] = []

    def draw(n: int) -> dict:
        answered.append(mesh.load("sleep", "http://ratings:9080/ratings/0", n, 4)["codes"])
        return answered[-1]

    assert_split(draw, 300, {"200": 0.5, "500": 0.5})
    aborted = sum(codes.get("500", 0) for codes in answered)
    lines = mesh.wait_log("sleep", "/ratings/0", " 500 FI ", count=before + aborted)
    assert len(lines) == before + aborted  # every 500 is an injected one, none more
    assert all("fault_filter_abort" in ln for ln in lines)


def test_seed_abort_with_deprecated_percent(clean):
    """Seed 004 "2.4 Fault injection": `abort: {httpStatus: 500, percent: 100}`. Abort's
    integer `percent` is the deprecated form of `percentage`: apply takes the seed's YAML as
    it is and translates it, and `analyze` warns (ISTL0002) that Istio's current schema no
    longer has it. The rule aborts every call: reviews v2/v3 show "Ratings service is
    currently unavailable", v1 (which never calls ratings) does not."""
    mesh = clean
    out = mesh.apply_yaml(SEED_ABORT_ALL)
    assert "virtualservice.networking.istio.io/ratings created" in out
    code, report, _ = mesh.cli("analyze")
    assert code == 0
    assert "Warning [ISTL0002] (VirtualService default/ratings) fault.abort.percent 100" in report
    response = mesh.send("sleep", "http://ratings:9080/ratings/0")
    assert response.status == 500 and response.text == "fault filter abort"
    seen = set()
    for _ in range(30):
        status, _, body, _ = gateway("/productpage")
        assert status == 200
        seen.add(RATINGS_UNAVAILABLE in body)
        if seen == {True, False}:
            break
    # P(30 pages all from one side of the v1 : v2+v3 split) < 1e-5
    assert seen == {True, False}
