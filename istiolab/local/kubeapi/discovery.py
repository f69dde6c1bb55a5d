"""Discovery and OpenAPI documents, from the one kind table.

- ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/<group>/<version>``: the legacy
  discovery documents (kubectl falls back to them from aggregated discovery), with short
  names (``vs``, ``dr``, ``gw``, ``se``, ``pa``, ``ra``, ``ap``; the Gateway API's ``gtw``,
  ``gc``, ``refgrant``), categories and verbs.
- ``/openapi/v3`` and one document per group/version: every resource's paths, each PATCH
  operation tagged with its group/version/kind and accepting ``fieldValidation``, so
  kubectl leaves field validation to this server (the project's validator, strict). The
  PATCH bodies accepted are merge, JSON and apply patches; kubectl then computes strategic
  merge patches for built-in kinds from its own types.
- ``/openapi/v2``: an empty protobuf document (kubectl reads it before its client-side
  validation, which the server-side validation above replaces).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from istiolab.manifests.kinds import KINDS, KindInfo
from istiolab.versions import ISTIO_VERSION

KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+istiolab"}
WRITE_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
READ_VERBS = ["get", "list", "watch"]
# protobuf openapi_v2.Document with only `swagger: "2.0"` (field 1, length-delimited)
OPENAPI_V2_PROTO = b"\x0a\x032.0"


def version() -> dict:
    return {
        **KUBE_VERSION,
        "gitCommit": "istiolab",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
        "istioVersion": ISTIO_VERSION,
    }


def groups() -> dict[str, list[str]]:
    """group -> served versions (preferred first), core group excluded."""
    out: dict[str, list[str]] = {}
    for info in KINDS:
        if info.group:
            versions = out.setdefault(info.group, [])
            versions += [v for v in info.versions if v not in versions]
    return out


def api_versions() -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def api_group_list() -> dict:
    items = []
    for group, versions in groups().items():
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def _resource(info: KindInfo) -> dict:
    entry: dict[str, Any] = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": ([*READ_VERBS, "delete"] if info.kind == "Pod" else READ_VERBS)
        if info.read_only
        else WRITE_VERBS,
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    return entry


def _subresources(info: KindInfo) -> list[dict]:
    if info.kind == "Pod":
        return [
            {"name": f"pods/{sub}", "singularName": "", "namespaced": True, "kind": kind,
             "verbs": verbs}
            for sub, kind, verbs in (
                ("exec", "PodExecOptions", ["create", "get"]),
                ("log", "Pod", ["get"]),
                ("portforward", "PodPortForwardOptions", ["create", "get"]),
                ("status", "Pod", ["get"]),
            )
        ]  # fmt: skip
    if info.kind == "Deployment":
        return [
            {"name": "deployments/status", "singularName": "", "namespaced": True,
             "kind": "Deployment", "verbs": ["get"]},
            {"name": "deployments/scale", "singularName": "", "namespaced": True,
             "group": "autoscaling", "version": "v1", "kind": "Scale",
             "verbs": ["get", "patch", "update"]},
        ]  # fmt: skip
    if info.kind == "Service":
        return [
            {"name": "services/proxy", "singularName": "", "namespaced": True,
             "kind": "ServiceProxyOptions",
             "verbs": ["create", "delete", "get", "patch", "update"]},
        ]  # fmt: skip
    return []


def kinds_in(group: str, version: str) -> list[KindInfo]:
    return [k for k in KINDS if k.group == group and version in k.versions]


def resource_list(group: str, version: str) -> dict | None:
    kinds = kinds_in(group, version)
    if not kinds:
        return None
    resources = []
    for info in kinds:
        resources.append(_resource(info))
        resources += _subresources(info)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}  # fmt: skip


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(info: KindInfo, version: str) -> dict:
    return {"group": info.group, "version": version, "kind": info.kind}


def _schema_name(info: KindInfo, version: str) -> str:
    parts = list(reversed(info.group.split("."))) if info.group else ["io", "k8s", "api", "core"]
    return ".".join([*parts, version, info.kind])


def _op(info: KindInfo, version: str, action: str, body: list[str] | None = None) -> dict:
    params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
              {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
              {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}]  # fmt: skip
    ref = {"$ref": f"#/components/schemas/{_schema_name(info, version)}"}
    op: dict[str, Any] = {
        "operationId": f"{action}{info.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(info, version),
        "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
    }
    if body is not None:
        op["parameters"] = params
        op["requestBody"] = {"content": {ct: {"schema": ref} for ct in body}}
    return op


def openapi_v3_gv(group: str, version: str) -> dict | None:
    kinds = kinds_in(group, version)
    if not kinds:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    prefix = "/" + _gv_path(group, version)
    for info in kinds:
        scope = f"{prefix}/namespaces/{{namespace}}" if info.namespaced else prefix
        collection, item = f"{scope}/{info.plural}", f"{scope}/{info.plural}/{{name}}"
        paths[collection] = {"get": _op(info, version, "list")}
        paths[item] = {"get": _op(info, version, "get")}
        if not info.read_only:
            paths[collection]["post"] = _op(info, version, "post", ["application/json"])
            paths[item]["put"] = _op(info, version, "put", ["application/json"])
            paths[item]["delete"] = _op(info, version, "delete")
            paths[item]["patch"] = _op(
                info,
                version,
                "patch",
                ["application/merge-patch+json", "application/json-patch+json",
                 "application/apply-patch+yaml"],
            )  # fmt: skip
        schemas[_schema_name(info, version)] = {
            "type": "object",
            "description": f"{info.kind} ({info.group or 'core'}/{version}), served by the "
            "istiolab local mesh; fields are validated against the Kubernetes and Istio "
            "schemas on write",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "x-kubernetes-group-version-kind": [_gvk(info, version)],
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_index() -> dict:
    paths = {}
    gvs = [("", "v1")] + [(g, v) for g, vs in groups().items() for v in vs]
    for group, ver in gvs:
        doc = json.dumps(openapi_v3_gv(group, ver), sort_keys=True).encode()
        digest = hashlib.sha256(doc).hexdigest()[:32].upper()
        path = _gv_path(group, ver)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
