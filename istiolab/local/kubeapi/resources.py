"""Get, list, create, replace, patch and delete: the API's verbs over the one config store.

Every write goes through the mesh's own ``apply``/``delete`` (the control API's path): the
same validation (the project's validator, always strict; its refusal is answered in the API
server's words, see :mod:`istiolab.local.kubeapi.status`), the same all-or-nothing commit,
persistence and reconciliation (pods started with or without a sidecar, xDS pushed and
ACKed) before the reply. Server-managed fields (``resourceVersion``, ``status``,
``managedFields``) are never stored. ``dryRun=All`` validates without committing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Protocol

import yaml

from istiolab.errors import IstiolabError
from istiolab.local.kubeapi import patch as patches
from istiolab.local.kubeapi.hub import Hub
from istiolab.local.kubeapi.selectors import field_selector, label_selector
from istiolab.local.kubeapi.status import (
    ApiError,
    already_exists,
    bad_request,
    from_project_error,
    method_not_allowed,
    not_found,
)
from istiolab.manifests.kinds import KindInfo

SERVER_FIELDS = ("resourceVersion", "managedFields", "selfLink", "deletionTimestamp")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")


class MeshDoor(Protocol):
    """What the API needs from the running mesh (:class:`istiolab.local.mesh.Mesh`)."""

    def apply(self, objects: list[dict], source: str = ...) -> dict: ...
    def delete(self, refs: list[tuple[str, str, str]]) -> dict: ...
    def delete_pods(self, pods: list[tuple[str, str]]) -> dict: ...


def served(obj: Mapping[str, Any], info: KindInfo, version: str) -> dict:
    """`obj` as served at `version` (the Istio versions share one schema)."""
    out = dict(obj)
    out["apiVersion"] = f"{info.group}/{version}" if info.group else version
    out["kind"] = info.kind
    return out


class Resources:
    def __init__(self, mesh: MeshDoor, hub: Hub) -> None:
        self.mesh = mesh
        self.hub = hub

    # reads
    def list(
        self, info: KindInfo, version: str, namespace: str | None, query: Mapping[str, str]
    ) -> tuple[int, list[dict]]:
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        rv, objects = self.hub.objects()
        items = [
            served(o, info, version)
            for (kind, ns, _), o in sorted(objects.items())
            if kind == info.store_kind
            and (namespace is None or ns == namespace)
            and labels(o)
            and fields(o)
        ]
        return rv, items

    def get(self, info: KindInfo, version: str, namespace: str | None, name: str) -> dict:
        obj = self._current(info, namespace, name)
        if obj is None:
            raise not_found(info, name)
        return served(obj, info, version)

    def _current(self, info: KindInfo, namespace: str | None, name: str) -> dict | None:
        _, objects = self.hub.objects()
        found = objects.get((info.store_kind, namespace or "" if info.namespaced else "", name))
        return copy.deepcopy(found) if found is not None else None

    # writes
    def create(
        self, info: KindInfo, version: str, namespace: str | None, body: Any, query: Mapping
    ) -> tuple[int, dict]:
        obj = self._checked(info, version, namespace, body, None)
        if self._current(info, namespace, obj["metadata"]["name"]) is not None and not (
            info.kind == "Namespace" and self._implicit(obj["metadata"]["name"])
        ):
            raise already_exists(info, obj["metadata"]["name"])
        return 201, self._write(info, version, obj, query)

    def replace(
        self,
        info: KindInfo,
        version: str,
        namespace: str | None,
        name: str,
        body: Any,
        query: Mapping,
    ) -> tuple[int, dict]:
        obj = self._checked(info, version, namespace, body, name)
        if self._current(info, namespace, name) is None:
            raise not_found(info, name)
        return 200, self._write(info, version, obj, query)

    def patch(
        self,
        info: KindInfo,
        version: str,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        query: Mapping,
    ) -> tuple[int, dict]:
        if info.read_only:
            raise method_not_allowed(info, "patch")
        kind = content_type.split(";", 1)[0].strip()
        try:
            body = (
                yaml.safe_load(raw) if kind == "application/apply-patch+yaml" else json.loads(raw)
            )
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the patch is not valid ({kind}): {exc}") from exc
        current = self._current(info, namespace, name)
        if current is None and kind != "application/apply-patch+yaml":
            raise not_found(info, name)
        live = _stored_form(current or {})
        if kind == "application/merge-patch+json":
            new = patches.merge_patch(live, body)
        elif kind == "application/strategic-merge-patch+json":
            new = patches.strategic_merge(live, body)
        elif kind == "application/json-patch+json":
            new = patches.json_patch(live, body)
        elif kind == "application/apply-patch+yaml":
            if not isinstance(body, dict):
                raise bad_request("server-side apply: the body must be one object")
            merge = patches.strategic_merge if not info.custom else patches.merge_patch
            new = merge(live, body) if current else body
        else:
            raise ApiError(415, "UnsupportedMediaType", f"the patch type {kind!r} is not supported")
        obj = self._checked(info, version, namespace, new, name)
        code = 201 if current is None else 200
        return code, self._write(info, version, obj, query)

    def delete(
        self, info: KindInfo, version: str, namespace: str | None, name: str, query: Mapping
    ) -> dict:
        current = self._current(info, namespace, name)
        if current is None:
            raise not_found(info, name)
        if info.kind == "Pod":
            return self._delete_pod(info, current, query)
        if info.read_only:
            raise method_not_allowed(info, "delete")
        if info.kind == "Namespace" and name in PROTECTED_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
            )
        refs = [(info.store_kind, name, namespace or "default")]
        if info.kind == "Namespace":  # everything inside goes with it, as on a cluster
            _, objects = self.hub.objects()
            refs = [(k, n, ns) for (k, ns, n) in objects if ns == name and k != "Pod"] + (
                [refs[0]] if not self._implicit(name) else []
            )
        if query.get("dryRun") != "All" and refs:
            try:
                self.mesh.delete(refs)
            except IstiolabError as exc:
                raise from_project_error(exc, info, name) from exc
            self.hub.refresh()
        return served(current, info, version)

    def _delete_pod(self, info: KindInfo, pod: dict, query: Mapping) -> dict:
        """A Deployment's pod goes; its Deployment starts a new one (new name, sidecar
        injection decided again), as a ReplicaSet does."""
        md = pod["metadata"]
        if not md.get("ownerReferences"):
            raise method_not_allowed(info, "delete")
        if query.get("dryRun") != "All":
            try:
                self.mesh.delete_pods([(md["namespace"], md["name"])])
            except IstiolabError as exc:
                raise from_project_error(exc, info, md["name"]) from exc
            self.hub.refresh()
        return served(pod, info, "v1")

    # the scale subresource (kubectl scale)
    def scale(self, info: KindInfo, namespace: str | None, name: str) -> dict:
        """A Deployment's ``autoscaling/v1`` Scale."""
        obj = self.get(info, "v1", namespace, name)
        labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        md = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: md[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in md
            },
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
            "status": {
                "replicas": int((obj.get("status") or {}).get("replicas", 0)),
                "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
            },
        }

    def set_scale(
        self,
        info: KindInfo,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        query: Mapping,
    ) -> dict:
        """PATCH (merge/JSON) or PUT of a Scale: the Deployment's ``spec.replicas``."""
        current = self.scale(info, namespace, name)
        kind = content_type.split(";", 1)[0].strip()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"the Scale is not valid JSON: {exc}") from exc
        if kind == "application/json-patch+json":
            new = patches.json_patch(current, body)
        elif kind in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            new = patches.merge_patch(current, body)
        else:
            new = body
        replicas = (new.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                422, "Invalid", f"Scale {name}: spec.replicas: Invalid value: {replicas!r}"
            )
        merge = json.dumps({"spec": {"replicas": replicas}}).encode()
        self.patch(info, "v1", namespace, name, "application/merge-patch+json", merge, query)
        return self.scale(info, namespace, name)

    # helpers
    def _as_if_stored(self, info: KindInfo, version: str, obj: dict) -> dict:
        """What a dry run returns: `obj` with the live object's server-side fields."""
        md = obj["metadata"]
        live = self._current(info, md.get("namespace"), md["name"]) or {}
        out = served(obj, info, version)
        live_md = live.get("metadata") or {}
        for k in ("uid", "resourceVersion", "generation", "creationTimestamp"):
            if k in live_md:
                out["metadata"][k] = live_md[k]
        if "status" in live:
            out["status"] = live["status"]
        return out

    def _implicit(self, namespace: str) -> bool:
        """A namespace the API shows though no Namespace object is stored."""
        _, objects = self.hub.objects(refresh=False)
        obj = objects.get(("Namespace", "", namespace)) or {}
        return "generation" not in (obj.get("metadata") or {})

    def _checked(
        self, info: KindInfo, version: str, namespace: str | None, body: Any, name: str | None
    ) -> dict:
        if info.read_only:
            raise method_not_allowed(info, "create")
        if not isinstance(body, dict):
            raise bad_request(f"the body of a {info.kind} must be an object")
        obj = _stored_form(body)
        obj["apiVersion"] = f"{info.group}/{version}" if info.group else version
        if obj.get("kind") not in (None, info.kind):
            raise bad_request(f"the body's kind {obj.get('kind')!r} does not match {info.kind}")
        obj["kind"] = info.kind
        md = obj.setdefault("metadata", {})
        for empty in ("labels", "annotations"):  # omitted when empty, as Go's omitempty
            if isinstance(md, dict) and md.get(empty) == {}:
                del md[empty]
        if not isinstance(md, dict) or not md.get("name"):
            raise ApiError(422, "Invalid", f"{info.kind}: metadata.name: Required value")
        if name is not None and md["name"] != name:
            raise bad_request(
                f"the name of the object ({md['name']}) does not match the name on the URL ({name})"
            )
        if info.namespaced:
            if md.get("namespace") not in (None, namespace):
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            md["namespace"] = namespace
        return obj

    def _write(self, info: KindInfo, version: str, obj: dict, query: Mapping) -> dict:
        name = obj["metadata"]["name"]
        try:
            if query.get("dryRun") == "All":
                from istiolab.manifests import validate_objects

                validate_objects([obj], "<dry run>")
                return self._as_if_stored(info, version, obj)
            self.mesh.apply([obj], f"{info.qualified}/{name}")
        except IstiolabError as exc:
            raise from_project_error(exc, info, name) from exc
        self.hub.refresh()
        return self.get(info, version, obj["metadata"].get("namespace"), name)


def _stored_form(obj: Mapping[str, Any]) -> dict:
    """`obj` without what the server owns (status, resourceVersion, managedFields)."""
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    md = out.get("metadata")
    if isinstance(md, dict):
        for k in SERVER_FIELDS:
            md.pop(k, None)
    return out
