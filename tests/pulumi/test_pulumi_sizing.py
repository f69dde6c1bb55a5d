"""The sizing model: documented figures, every shortfall, what could be dropped."""

from __future__ import annotations

import json

import pytest
from pulumi_harness import REPO

from istiolab import sizing
from istiolab.errors import ConfigError
from istiolab.sizing import Plan, Resources

SIZING_YML = REPO / "playbooks" / "group_vars" / "all" / "sizing.yml"
FULL = Plan(
    cluster_type="kind",
    profile="default",
    addons=("prometheus", "grafana", "kiali", "jaeger"),
    samples=("bookinfo", "httpbin", "sleep", "fortio"),
    httpbin_versions=2,
    nodes=2,
)


def items(plan: Plan) -> dict[str, Resources]:
    return {i.name: i.resources for i in sizing.demand(plan)}


def test_istio_defaults_istiod_gateway_and_one_sidecar_per_sample_pod():
    d = items(FULL)
    assert d["istiod"] == Resources(500, 2048)
    assert d["ingress gateway"] == Resources(100, 128)
    assert "egress gateway" not in d
    # Bookinfo: six pods (productpage, details, ratings, reviews v1-v3), each with a
    # 100m/128Mi sidecar on top of its app container.
    apps = sum(p.cpu_m for p in sizing.SAMPLE_PODS["bookinfo"])
    assert d["sample bookinfo"].cpu_m == apps + 6 * 100
    assert d["sample bookinfo"].memory_mi == 64 + 32 + 32 + 3 * 256 + 6 * 128
    assert d["sample httpbin"] == Resources(2 * (10 + 100), 2 * (32 + 128))  # v1 and v2
    assert d["kubernetes system pods"] == Resources(850 + 2 * 100, 240 + 2 * 50)


def test_demo_profile_uses_the_demo_requests():
    d = items(Plan(profile="demo", egress_gateway=True, samples=("sleep",)))
    assert d["istiod"] == Resources(10, 100)
    assert d["egress gateway"] == Resources(10, 40)
    assert d["sample sleep"] == Resources(5 + 10, 8 + 40)


def test_fits_on_a_laptop():
    report = sizing.check(FULL, sizing.kind_capacity(8, 16384, nodes=2))
    assert report.fits and not report.shortfalls
    assert report.need.cpu_m == sum(i.resources.cpu_m for i in report.items)


def test_each_shortfall_and_what_could_be_dropped():
    report = sizing.check(FULL, sizing.node_capacity(2, 4096))
    assert not report.fits
    need = report.need
    assert report.shortfalls[0] == (
        f"CPU: needs {need.cpu_m}m, has 1900m (short by {need.cpu_m - 1900}m)"
    )
    assert report.shortfalls[1] == (
        f"memory: needs {need.memory_mi} MiB, has 3840 MiB (short by {need.memory_mi - 3840} MiB)"
    )
    assert "drop addon kiali to save 10m CPU and 64 MiB" in report.suggestions
    assert "drop addon prometheus to save 250m CPU and 512 MiB" in report.suggestions
    assert "drop sample bookinfo to save 970m CPU and 1664 MiB" in report.suggestions
    assert report.suggestions[0].startswith("set istiolab:mesh.profile=demo to save ")
    with pytest.raises(ConfigError) as err:
        sizing.require_fit(FULL, sizing.node_capacity(2, 4096))
    msg = str(err.value)
    assert msg.startswith("the lab needs more than 1 node(s) of 2 CPUs / 4096 MiB provides:")
    assert "  - CPU: needs" in msg and "  - memory: needs" in msg
    assert "  * drop addon grafana to save 100m CPU and 128 MiB" in msg


def test_a_pod_larger_than_any_node_is_a_shortfall_even_when_the_total_fits():
    sizes = sizing.inventory_sizing(SIZING_YML, "dev")  # workers: 1 CPU, 1024 MB
    cap = sizing.k0s_capacity(sizes, pod_controllers=0, workers=4)
    report = sizing.check(Plan(cluster_type="k0s", profile="default", nodes=4), cap)
    assert report.shortfalls == [
        "istiod: a pod requests 500m CPU / 2048 MiB but the largest node offers 900m / 768 MiB"
    ]


def test_inventory_sizing_reads_the_shared_figures():
    assert sizing.inventory_sizing(SIZING_YML)["controllers"] == sizing.NodeSize(4, 16384, 40)
    assert sizing.inventory_sizing(SIZING_YML)["workers"] == sizing.NodeSize(1, 8192, 16)
    with pytest.raises(
        ConfigError, match=r"sizing_profile='huge' is not allowed: one of production, dev"
    ):
        sizing.inventory_sizing(SIZING_YML, "huge")


def test_k0s_capacity_counts_only_the_nodes_that_run_pods():
    sizes = sizing.inventory_sizing(SIZING_YML)
    three = sizing.k0s_capacity(sizes, pod_controllers=0, workers=2)
    assert three.total == Resources(2 * 900, 2 * (8192 - 256))
    single = sizing.k0s_capacity(sizes, pod_controllers=1, workers=0)
    assert single.total == Resources(3900, 16384 - 256)
    assert "1 controller(s) of 4 CPUs / 16384 MiB" in single.source


def test_unknown_names_are_errors():
    with pytest.raises(ConfigError, match="addon='zipkin' is not allowed: one of prometheus"):
        sizing.demand(Plan(addons=("zipkin",)))


def test_cli_for_the_ansible_preflight(capsys):
    rc = sizing.main(["--sizing-file", str(SIZING_YML), "--workers", "2", "--profile", "demo",
                      "--addons", "kiali", "--samples", "bookinfo", "-o", "json"])  # fmt: skip
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] is True and report["capacity"]["cpu_m"] == 1800
    addons = "prometheus,grafana,kiali,jaeger"
    rc = sizing.main(["--cpus", "1", "--memory-mb", "2048", "--cluster-type", "minikube",
                      "--addons", addons, "--samples", "bookinfo"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 1
    assert "  - CPU: needs" in out and "drop addon prometheus" in out
