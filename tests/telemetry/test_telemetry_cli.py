"""`up --addons`, `traces` and `graph` input errors: one line, exit 1, nothing started."""

from __future__ import annotations

from local.test_mesh import cli


def test_addons_that_do_not_run_locally_name_the_local_view(tmp_path):
    code, _, err = cli("up", "--state-dir", str(tmp_path), "--addons", "kiali", "--octet", "164")
    assert code == 1
    assert err.strip().endswith(
        "(`istiolab graph` draws the service graph from the mesh's metrics)"
    )
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "istiolab.pid").exists()


def test_missing_prometheus_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no prometheus here
    monkeypatch.delenv("ISTIOLAB_PROMETHEUS", raising=False)
    code, _, err = cli("up", "--state-dir", str(tmp_path / "s"), "--addons", "prometheus")
    assert code == 1
    assert "apt-get install prometheus" in err and len(err.strip().splitlines()) == 1


def test_traces_without_spans_and_bad_durations(tmp_path):
    code, out, _ = cli("traces", "--state-dir", str(tmp_path))
    assert code == 0 and "no traces found" in out and "randomSamplingPercentage" in out
    code, _, err = cli("traces", "--state-dir", str(tmp_path), "--min-duration", "fast")
    assert code == 1 and "--min-duration 'fast': not a duration" in err
    code, out, _ = cli("traces", "--state-dir", str(tmp_path), "-o", "json")
    assert code == 0 and out.strip() == "[]"


def test_graph_needs_a_running_mesh(tmp_path):
    code, _, err = cli("graph", "--state-dir", str(tmp_path))
    assert code == 1 and "not running" in err and "istiolab up" in err
