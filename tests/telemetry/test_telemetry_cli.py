"""`up --addons`, `traces` and `graph` input errors: one line, exit 1, nothing started."""

from __future__ import annotations

import pytest
from local.test_mesh import cli

from istiolab.errors import ConfigError


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


def test_dashboard_on_a_cluster_port_forwards_like_istioctl(monkeypatch):
    from istiolab.commands import telemetry

    calls = []
    monkeypatch.setattr(telemetry.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(telemetry.subprocess, "run", lambda argv, check: calls.append(argv))
    code, out, _ = cli("dashboard", "kiali", "--context", "kind-lab")
    assert code == 0 and "http://localhost:20001/kiali" in out
    code, out, _ = cli("dashboard", "envoy", "productpage-v1", "--context", "kind-lab")
    assert code == 0 and "http://localhost:15000/" in out
    assert calls == [
        ["/usr/bin/kubectl", "--context", "kind-lab", "-n", "istio-system", "port-forward",
         "svc/kiali", "20001:20001"],
        ["/usr/bin/kubectl", "--context", "kind-lab", "-n", "default", "port-forward",
         "deployment/productpage-v1", "15000:15000"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "ms"),
    [("100ms", 100.0), ("1.5s", 1500.0), ("2m", 120000.0), ("1h30m", 5400000.0), ("250us", 0.25)],
)
def test_duration_options_read_through_the_one_parser(text, ms):
    from istiolab.commands.telemetry import duration_ms

    assert duration_ms(text, "--window") == ms


@pytest.mark.parametrize("text", ["fast", "100", "-1s", "5 s", ""])
def test_bad_duration_options_name_option_value_and_fix(text):
    from istiolab.commands.telemetry import duration_ms

    with pytest.raises(ConfigError) as caught:
        duration_ms(text, "--window")
    assert str(caught.value) == (f"--window {text!r}: not a duration; use e.g. 500ms, 5s, 3m or 1h")
