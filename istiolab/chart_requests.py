"""What Istio's own pods request, read from the Helm charts rendered with the lab's values.

The sizing model (istiolab/sizing.py) takes istiod's, each gateway's and each sidecar's
requests from `istio_requests.json` next to this module; that file is what `generate()` reads
from the real charts (requests x replicas of the rendered Deployments, autoscaling off; the
sidecar's from the injector's values), and tests/pulumi/test_chart_renders.py fails when the
charts and the file disagree. Regenerate after an Istio bump:

    python -m istiolab.chart_requests CHARTS_DIR > istiolab/istio_requests.json

Parsing rendered manifests is pure; rendering needs PyPI `helm-python-sdk` (a test extra).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from istiolab import versions
from istiolab.istio_install import PROFILES, IstioInstall, Release, releases

DATA_FILE = Path(__file__).with_name("istio_requests.json")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$")
_MEMORY = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "k": 1e3 / 2**20,
           "M": 1e6 / 2**20, "G": 1e9 / 2**20}  # fmt: skip


def cpu_millis(quantity: Any) -> int:
    m = _QUANTITY.match(str(quantity))
    if not m or m.group(2) not in (None, "m"):
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    value = float(m.group(1))
    return round(value if m.group(2) == "m" else value * 1000)


def memory_mib(quantity: Any) -> int:
    m = _QUANTITY.match(str(quantity))
    if not m or m.group(2) == "m":
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return round(float(m.group(1)) * _MEMORY[m.group(2)])


def requests_of(resources: Mapping | None) -> tuple[int, int]:
    req = (resources or {}).get("requests") or {}
    return (
        cpu_millis(req["cpu"]) if "cpu" in req else 0,
        memory_mib(req["memory"]) if "memory" in req else 0,
    )


def objects(rendered: Mapping[str, str]) -> list[dict]:
    """Every object of a render (template path -> YAML text), NOTES and empty ones left out."""
    out: list[dict] = []
    for path, text in rendered.items():
        if path.endswith(".txt"):
            continue
        out += [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind")]
    return out


def deployment_requests(objs: Iterable[dict]) -> dict[str, tuple[int, int]]:
    """Per Deployment: (CPU millicores, memory MiB) of its containers x replicas."""
    out = {}
    for o in objs:
        if o.get("kind") != "Deployment":
            continue
        spec = o.get("spec") or {}
        replicas = spec.get("replicas", 1)
        cpu = mem = 0
        for c in spec["template"]["spec"].get("containers") or []:
            c_cpu, c_mem = requests_of(c.get("resources"))
            cpu, mem = cpu + c_cpu, mem + c_mem
        out[o["metadata"]["name"]] = (cpu * replicas, mem * replicas)
    return out


def sidecar_requests(objs: Iterable[dict]) -> tuple[int, int]:
    """The injected sidecar's requests: `global.proxy.resources` of the injector's values."""
    for o in objs:
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"].startswith(
            "istio-sidecar-injector"
        ):
            values = json.loads(o["data"]["values"])
            return requests_of(values["global"]["proxy"]["resources"])
    raise ValueError("the istiod render has no istio-sidecar-injector ConfigMap")


def render(charts_dir: Path, release: Release) -> dict[str, str]:
    """The chart of `release` rendered offline with its values (schema checked first)."""
    from helm_python import Chart

    chart = Chart.load(str(Path(charts_dir) / release.chart))
    try:
        chart.validate_schema(release.values)
        return chart.render(
            release.values, name=release.name, namespace="istio-system", is_install=True
        )
    finally:
        chart.close()


def generate(charts_dir: Path) -> dict[str, Any]:
    """Per profile: istiod, one gateway and one sidecar, as {cpu_m, memory_mi}."""
    out: dict[str, Any] = {"istio": versions.ISTIO_VERSION}
    for profile in PROFILES:
        _, istiod, ingress = releases(IstioInstall(profile=profile))
        istiod_objs = objects(render(charts_dir, istiod))
        gateway = deployment_requests(objects(render(charts_dir, ingress)))[ingress.name]
        figures = {
            "istiod": deployment_requests(istiod_objs)["istiod"],
            "gateway": gateway,
            "sidecar": sidecar_requests(istiod_objs),
        }
        out[profile] = {k: {"cpu_m": c, "memory_mi": m} for k, (c, m) in figures.items()}
    return out


def load() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m istiolab.chart_requests CHARTS_DIR")
    print(json.dumps(generate(Path(sys.argv[1])), indent=2))
