"""Bad resilience settings: refused with a message naming file, document, field and value
(nothing applied, the last good config keeps serving), or accepted and reported by
analysis when Istio would accept them too."""

from __future__ import annotations

import json
import time

import pytest

from istiolab import manifests
from istiolab.errors import ParameterError

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

GOOD_RULE = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ratings
spec:
  host: ratings
  subsets:
  - name: v1
    labels:
      version: v1
"""

# Seed 000 "Fault Injection" (abort on my-service), with ratings and a percentage of 150.
ABORT_150 = """\
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
        percentage:
          value: 150
        httpStatus: 400
    route:
    - destination:
        host: ratings
        subset: v1
"""

NEGATIVE_TIMEOUT = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
    timeout: -3s
"""

# Seed 000 "Retries" (attempts 3, perTryTimeout 2s) on httpbin, with a 1 s route timeout.
PER_TRY_LONGER = """\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts:
  - httpbin
  http:
  - route:
    - destination:
        host: httpbin
    timeout: 1s
    retries:
      attempts: 3 # number of times to try
      perTryTimeout: 2s # interval between each try
      retryOn: 5xx
"""


def names(mesh, kind: str) -> list[str]:
    return [o["metadata"]["name"] for o in json.loads(mesh.ok("get", kind, "-o", "json"))["items"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ABORT_150,
            "document 1 (VirtualService/ratings): spec.http[0].fault.abort.percentage.value: "
            "150 is outside 0..100 (a percentage from 0 to 100)",
        ),
        (
            NEGATIVE_TIMEOUT,
            "document 1 (VirtualService/reviews): spec.http[0].timeout: '-3s' is not a valid "
            "duration (use a non-negative duration such as 500ms, 5s, 3m or 1h)",
        ),
    ],
    ids=["percentage-150", "negative-timeout"],
)
def test_refused_with_file_document_field_and_value(clean, tmp_path, text, message):
    """Istio's validation of HTTPFaultInjection percentages (0..100) and of durations: apply
    refuses the whole file, naming it, the document, the field path and the value; the
    valid DestinationRule in the same file is not applied either and traffic is unchanged."""
    mesh = clean
    path = tmp_path / "resilience.yaml"
    path.write_text(GOOD_RULE + "---\n" + text)
    code, out, err = mesh.cli("apply", "-f", str(path))
    assert code == 1 and out == ""
    assert f"error: {path}: {message}" in err, err
    assert err.count("\n") == 1  # one line
    assert "ratings" not in names(mesh, "destinationrule")
    assert names(mesh, "virtualservice") == ["bookinfo"]
    assert mesh.send("sleep", "http://ratings:9080/ratings/0").status == 200


def test_presets_refuse_the_same_values():
    """The traffic presets check their parameters before building any YAML."""
    with pytest.raises(ParameterError, match=r"percent=150 is not allowed: .*0 to 100"):
        manifests.traffic_preset("fault-abort", percent=150)
    with pytest.raises(ParameterError, match=r"timeout='-1s' is not allowed: a duration"):
        manifests.traffic_preset("timeout", timeout="-1s")


def test_per_try_timeout_longer_than_route_timeout_is_accepted_and_reported(clean):
    """Seed 000 "Retries" with a route `timeout: 1s` below `perTryTimeout: 2s`: Istio accepts
    it (the route timeout wins), so the local mesh applies it and analysis reports it; on
    the wire the request ends after 1 s with 504 UT and no retry reaches httpbin."""
    mesh = clean
    out = mesh.apply_yaml(PER_TRY_LONGER)
    assert "virtualservice.networking.istio.io/httpbin created" in out
    status = mesh.status()
    [finding] = [f for f in status["findings"] if "ISTL0001" in f]
    assert finding == (
        "Warning [ISTL0001] (VirtualService default/httpbin) retries.perTryTimeout 2s is "
        "longer than the route timeout 1s: the timeout ends the request during the first "
        "try, so no retry can happen"
    )
    assert "Configuration problems:" in mesh.ok("status")

    served = len(mesh.log_lines("httpbin-v1", "/delay/3"))
    began = time.monotonic()
    response = mesh.send("sleep", "http://httpbin:8000/delay/3")
    elapsed = time.monotonic() - began
    assert response.status == 504 and response.text == "upstream request timeout"
    assert 0.95 <= elapsed < 1.9, elapsed
    mesh.wait_log("sleep", "/delay/3", " 504 UT ")
    lines = mesh.wait_log("httpbin-v1", "/delay/3", count=served + 1)
    assert len(lines) == served + 1  # one try only
