"""A learner's answers, not the reference solution: a correct answer written differently
(3m vs 180s, a DestinationRule split in two, fields and list items in another order) passes;
a wrong one fails with the expected and measured values and the hint for that state."""

from __future__ import annotations

import re

import pytest
import yaml

from istiolab.errors import ValidationError
from istiolab.labs import format as labformat
from istiolab.labs import session
from istiolab.labs.runner import Runner

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def lab(name: str) -> labformat.Lab:
    return labformat.find_lab(labformat.labs_root(), name)


@pytest.fixture
def started(backend, request):
    """Start the lab named by the test's parameter; clean up afterwards."""
    item = lab(request.param)
    session.start(backend, item)
    yield item
    session.cleanup(backend, item)


def results(backend, item, task: int, patience: float = 20) -> dict:
    """Check ids -> results; `patience` 0 for answers that must fail (no retrying)."""
    runner = Runner(backend, patience=patience, base=item.path)
    return {r.id: r for r in runner.run_task(item.task(task))}


def apply(backend, text: str) -> None:
    backend.apply(list(yaml.safe_load_all(text)), source="<learner>")
    backend.wait_converged()


# circuit breaking task 1, as two DestinationRules for the same host (long name), each with
# fields in another order and the ejection time as 180s
SPLIT_DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin-pool}
spec:
  trafficPolicy:
    connectionPool:
      http: {maxRequestsPerConnection: 1, http1MaxPendingRequests: 1}
      tcp: {maxConnections: 1}
  host: httpbin.default.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin-ejection}
spec:
  host: httpbin
  trafficPolicy:
    outlierDetection:
      {maxEjectionPercent: 100, baseEjectionTime: 180s, interval: 1000ms, consecutive5xxErrors: 1}
"""
WRONG_DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 2, maxRequestsPerConnection: 1}
    outlierDetection:
      {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 2m, maxEjectionPercent: 100}
"""


@pytest.mark.parametrize("started", ["06-circuit-breaking"], indirect=True)
def test_breaker_written_differently_passes_and_a_wrong_one_says_what_to_change(backend, started):
    apply(backend, SPLIT_DR)
    got = results(backend, started, 1)
    assert all(r.passed for r in got.values()), got

    apply(backend, WRONG_DR)
    backend.delete([("DestinationRule", "httpbin-pool", "default")])
    backend.delete([("DestinationRule", "httpbin-ejection", "default")])
    got = results(backend, started, 1, patience=0)
    pool, outlier = got["connection-pool"], got["outlier-detection"]
    assert not pool.passed and not outlier.passed
    assert "http1MaxPendingRequests: 2 (want 1)" in pool.measured
    assert "http1MaxPendingRequests = 1" in pool.expected
    assert pool.hint == "Set the three connectionPool limits to 1."
    assert "baseEjectionTime: 2m (want 3m)" in outlier.measured
    assert "180s is the same" in outlier.hint


def test_a_typo_in_a_field_is_refused_before_any_check(backend):
    text = WRONG_DR.replace("http1MaxPendingRequests: 2", "http1MaxPendingRequest: 1")
    with pytest.raises(ValidationError, match="http1MaxPendingRequest"):
        backend.apply(list(yaml.safe_load_all(text)), source="typo.yaml")


SHIFT_REVERSED = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-shift}
spec:
  http:
  - route:
    - weight: 50
      destination: {subset: v3, host: reviews.default.svc.cluster.local}
    - destination: {host: reviews, subset: v1}
      weight: 50
  hosts: [reviews]
"""


@pytest.mark.parametrize("started", ["04-traffic-shifting"], indirect=True)
def test_weights_in_another_order_and_name(backend, started):
    backend.delete([("VirtualService", "reviews", "default")])
    apply(backend, SHIFT_REVERSED)
    got = results(backend, started, 1)
    assert all(r.passed for r in got.values()), got
    apply(
        backend,
        SHIFT_REVERSED.replace(
            "weight: 50\n      destination: {subset: v3",
            "weight: 80\n      destination: {subset: v3",
        ).replace("      weight: 50\n  hosts", "      weight: 20\n  hosts"),
    )
    split = results(backend, started, 1, patience=0)["split-50-50"]
    assert not split.passed
    assert split.expected == "v1 50% ±5, v3 50% ±5"
    assert "best of 1 tries of 500" in split.measured
    v3 = float(re.search(r"v3 ([0-9.]+)%", split.measured).group(1))
    assert 70 <= v3 <= 90, split.measured  # 80 %: 500 draws, > 5 standard deviations wide


TIMEOUT_MS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - timeout: 500ms
    route:
    - destination: {host: reviews, subset: v2}
"""


@pytest.mark.parametrize("started", ["05-timeouts-retries"], indirect=True)
def test_half_a_second_as_500ms(backend, started):
    apply(backend, TIMEOUT_MS)
    got = results(backend, started, 1)
    assert all(r.passed for r in got.values()), got
    apply(backend, TIMEOUT_MS.replace("500ms", "3s"))
    got = results(backend, started, 1, patience=0)
    assert got["reviews-timeout"].measured == "reviews: spec.http[0].timeout: 3s (want 500ms)"
    page = got["page-in-one-second"]
    assert not page.passed and "latency 2." in page.measured
    assert page.hint.startswith("The page still waits for the 2 s ratings delay")


@pytest.mark.parametrize("started", ["10-secure-ingress"], indirect=True)
def test_a_tls_secret_written_with_string_data(backend, started):
    """The credential as plain-text stringData (how many tutorials write it) instead of the
    base64 data `kubectl create secret tls` makes: the gateway serves it all the same."""
    import base64

    [secret] = started.objects(["solution/httpbin-credential.yaml"])
    data = secret.pop("data")
    secret["stringData"] = {k: base64.b64decode(v).decode() for k, v in data.items()}
    backend.apply([secret], source="<learner>")
    got = results(backend, started, 1)
    assert all(r.passed for r in got.values()), got
    apply(backend, (started.path / "solution/httpbin-gateway-https.yaml").read_text())
    got = results(backend, started, 2)
    assert all(r.passed for r in got.values()), got
