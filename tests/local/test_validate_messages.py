"""`istiolab validate` names a path it cannot read in its summary line, rather than counting
it as a problem in 0 documents."""

from __future__ import annotations

from local.test_mesh import cli

GOOD = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
"""
BAD = GOOD.replace(
    "host: reviews", "host: reviews\n  trafficPolicy: {loadBalancer: {simple: FAST}}"
)


def test_missing_file_is_named_in_the_summary(tmp_path):
    missing = tmp_path / "nope.yaml"
    code, out, err = cli("validate", "-f", str(missing))
    assert code == 1
    assert out == f"{missing}: no such file or directory\n"
    assert err == f"error: no such file or directory: {missing}\n"


def test_missing_file_next_to_real_problems(tmp_path):
    missing, bad = tmp_path / "nope.yaml", tmp_path / "bad.yaml"
    bad.write_text(BAD)
    code, out, err = cli("validate", "-f", str(bad), "-f", str(missing))
    assert code == 1
    assert "FAST" in out and f"{missing}: no such file or directory" in out
    assert err == (
        f"error: 1 problem(s) found in 1 document(s); no such file or directory: {missing}\n"
    )


def test_empty_directory_says_so(tmp_path):
    code, _, err = cli("validate", "-f", str(tmp_path))
    assert code == 1
    assert err == f"error: {tmp_path}: no *.yaml or *.yml files in this directory\n"
