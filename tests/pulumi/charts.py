"""The real Istio Helm charts for the render tests, and rendering them with helm-python-sdk.

Where the charts come from: `$ISTIOLAB_CHARTS_DIR`, else `../shared/istio-charts/<version>`
next to the repository (CI), else pulled from the Istio Helm repository into
~/.cache/istiolab/istio-charts/<version> on a machine that reaches it. With none of these the
tests skip, which under CI=true is a failure (tests/conftest.py).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import kubernetes_validate
from pulumi_harness import REPO
from support import require

from istiolab import chart_requests, versions
from istiolab.istio_install import Release
from istiolab.manifests.validation import kube

CHARTS = ("base", "istiod", "gateway")


def _pull(version: str) -> Path | None:
    dest = Path.home() / ".cache" / "istiolab" / "istio-charts" / version
    if all((dest / c / "Chart.yaml").is_file() for c in CHARTS):
        return dest
    try:
        import helm_python

        dest.mkdir(parents=True, exist_ok=True)
        for chart in CHARTS:
            helm_python.pull(chart, repo_url=versions.ISTIO_HELM_REPO, version=version,
                             destination=dest, untar=True, untar_dir=dest)  # fmt: skip
    except Exception:  # no route to the repository: the caller reports what is missing
        return None
    return dest


@functools.cache
def charts_dir() -> Path:
    env = os.environ.get("ISTIOLAB_CHARTS_DIR")
    if env:
        return Path(env)
    shared = REPO.parent / "shared" / "istio-charts" / versions.ISTIO_VERSION
    found = shared if shared.is_dir() else _pull(versions.ISTIO_VERSION)
    require(
        found is not None,
        f"the Istio {versions.ISTIO_VERSION} charts ($ISTIOLAB_CHARTS_DIR, {shared}, or the "
        "Istio Helm repository)",
    )
    return found  # type: ignore[return-value]


def render(release: Release) -> list[dict]:
    """The release's objects as Helm renders them (its values schema-checked first)."""
    return chart_requests.objects(chart_requests.render(charts_dir(), release))


def kubernetes_errors(objs: list[dict], minor: str) -> list[str]:
    """kubernetes-validate (strict: unknown fields are errors) for Kubernetes `minor`."""
    out = []
    for o in objs:
        if not kube.is_kubernetes(o["apiVersion"], o["kind"]):
            out.append(f"{o['apiVersion']} {o['kind']} is not a Kubernetes {minor} kind")
            continue
        try:
            kubernetes_validate.validate(o, f"{minor}.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            out.append(f"{o['kind']}/{o['metadata']['name']}: {exc.message}")
    return out
