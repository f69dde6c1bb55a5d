"""`istiolab analyze`: IST-coded findings over files and the stored config, exit 1 on errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from istiolab.cli import main

REVIEWS_VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: %(subset)s}
    timeout: 1s
    retries: {attempts: 2, perTryTimeout: %(per_try)s}
"""

REVIEWS_DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
"""

REVIEWS_SVC = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
"""


@pytest.fixture
def state(tmp_path: Path) -> str:
    return str(tmp_path / "state")


def write(tmp_path: Path, name: str, *docs: str) -> str:
    path = tmp_path / name
    path.write_text("---\n".join(docs))
    return str(path)


def test_missing_subset_is_an_error(tmp_path, state, capsys):
    f = write(
        tmp_path,
        "vs.yaml",
        REVIEWS_SVC,
        REVIEWS_DR,
        REVIEWS_VS % {"subset": "v9", "per_try": "0.5s"},
    )
    assert main(["analyze", "--state-dir", state, "-f", f]) == 1
    out = capsys.readouterr()
    assert (
        "Error [IST0101] (VirtualService default/reviews) Referenced host+subset in "
        'destinationrule not found: "reviews+v9"' in out.out
    )
    assert "analysis found 1 error(s)" in out.err


def test_per_try_timeout_longer_than_timeout_is_a_warning_only(tmp_path, state, capsys):
    f = write(
        tmp_path, "vs.yaml", REVIEWS_SVC, REVIEWS_DR, REVIEWS_VS % {"subset": "v1", "per_try": "2s"}
    )
    assert main(["analyze", "--state-dir", state, "-f", f]) == 0
    out = capsys.readouterr().out
    assert "Warning [ISTL0001] (VirtualService default/reviews)" in out
    assert "perTryTimeout 2s is longer than the route timeout 1s" in out


def test_schema_error_is_ist0106_with_field_and_hint(tmp_path, state, capsys):
    bad = (
        REVIEWS_DR
        + "  trafficPolicy:\n    connectionPool:\n      http: {http1MaxPendingRequest: 1}\n"
    )
    f = write(tmp_path, "dr.yaml", bad)
    assert main(["analyze", "--state-dir", state, "-f", f]) == 1
    out = capsys.readouterr().out
    assert "Error [IST0106] (DestinationRule default/reviews) Schema validation error:" in out
    assert "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest" in out
    assert "did you mean http1MaxPendingRequests?" in out


def test_clean_config_says_so(tmp_path, state, capsys):
    f = write(
        tmp_path,
        "ok.yaml",
        REVIEWS_SVC,
        REVIEWS_DR,
        REVIEWS_VS % {"subset": "v1", "per_try": "0.5s"},
    )
    assert main(["analyze", "--state-dir", state, "-f", f, "-n", "default"]) == 0
    assert (
        "No validation issues found when analyzing namespace: default." in capsys.readouterr().out
    )


def test_files_are_laid_over_the_stored_config(tmp_path, state, capsys):
    stored = write(
        tmp_path, "stored.yaml", REVIEWS_SVC, REVIEWS_VS % {"subset": "v1", "per_try": "0.5s"}
    )
    assert main(["apply", "--state-dir", state, "-f", stored]) == 0
    assert main(["analyze", "--state-dir", state]) == 1  # no DestinationRule defines v1 yet
    capsys.readouterr()
    dr = write(tmp_path, "dr.yaml", REVIEWS_DR)
    assert main(["analyze", "--state-dir", state, "-f", dr]) == 0
    assert main(["analyze", "--state-dir", state, "-f", dr, "--no-use-store"]) == 0


def test_deprecated_abort_percent_is_a_warning(tmp_path, state, capsys):
    vs = (
        "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\n"
        "metadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http:\n"
        "  - fault: {abort: {httpStatus: 500, percent: 50}}\n"
        "    route: [{destination: {host: reviews}}]\n"
    )
    f = write(tmp_path, "vs.yaml", REVIEWS_SVC, vs)
    assert main(["analyze", "--state-dir", state, "-f", f]) == 0
    out = capsys.readouterr().out
    assert "Warning [ISTL0002] (VirtualService default/reviews) fault.abort.percent 50" in out
    assert "use percentage: {value: 50}" in out
