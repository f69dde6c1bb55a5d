"""The real Istio Helm charts for the render tests, and rendering them with helm-python-sdk.

Where the charts come from: `$ISTIOLAB_CHARTS_DIR`, else `../shared/istio-charts/<version>`
next to the repository (CI), else pulled from the Istio Helm repository into
~/.cache/istiolab/istio-charts/<version> on a machine that reaches it. With none of these the
tests skip, which under CI=true is a failure (tests/conftest.py).
"""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path

import jsonschema
import referencing
from pulumi_harness import REPO
from support import require

from istiolab import chart_requests, versions
from istiolab.istio_install import Release

DEFS_ID = "https://kubernetes.io/api/_definitions.json"
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


@functools.cache
def _validator(minor: str, api_version: str, kind: str):
    """A JSON-schema validator for one kind, from kubernetes-validate's strict schemas of
    Kubernetes `minor` (cached: kubernetes_validate.validate reloads them on every call)."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    defs = json.loads(root.joinpath(f"v{minor}.0-local-strict", "_definitions.json").read_text())
    for name, schema in defs["$defs"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            gv = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            if (gv, gvk["kind"]) == (api_version, kind):
                registry = referencing.Registry().with_resource(
                    DEFS_ID, referencing.Resource.from_contents(defs)
                )
                ref = {"$ref": f"{DEFS_ID}#/$defs/{name}"}
                return jsonschema.Draft202012Validator(ref, registry=registry)
    return None


def kubernetes_errors(objs: list[dict], minor: str) -> list[str]:
    """kubernetes-validate's strict schemas (unknown fields are errors) for Kubernetes
    `minor`: every problem as 'Kind/name: path: message'."""
    out = []
    for o in objs:
        validator = _validator(minor, o["apiVersion"], o["kind"])
        if validator is None:
            out.append(f"{o['apiVersion']} {o['kind']} is not a Kubernetes {minor} kind")
            continue
        for e in validator.iter_errors(o):
            path = ".".join(str(x) for x in e.absolute_path)
            out.append(f"{o['kind']}/{o['metadata']['name']}: {path}: {e.message}")
    return out
