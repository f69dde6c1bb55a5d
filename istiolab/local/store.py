"""The local mesh's config store: what ``kubectl apply`` writes to a cluster's API server.

- ``apply`` validates every object first (``istiolab.manifests.validate_objects``: the
  Kubernetes and Istio schemas, plus the local checks below) and then commits all of them
  at once; on any error it raises and nothing changes, so the last good config keeps
  serving. It answers like kubectl: ``virtualservice.networking.istio.io/reviews created``.
- Local checks: the mesh config in the ``istio`` ConfigMap parses, Service targetPorts
  resolve, and the resulting config translates into Envoy resources that parse (a dry run
  for one sidecar per namespace and the gateway).
- Persistence: ``<state_dir>/store/objects.json`` (version + objects), written to a temp
  file, fsynced, then renamed over the old one: a crash leaves the old or the new config,
  never a mix. The previous good copy stays as ``objects.json.bak`` (a hard link to the
  file being replaced), so a store garbled later can be restored. A new ``ConfigStore`` on
  the same directory loads it; an unreadable one is a ConfigError naming both files.
- ``subscribe(callback)``: ``callback(version)`` after each successful commit.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from istiolab.errors import ConfigError, Finding, NotFoundError, ValidationError
from istiolab.manifests.kinds import (
    CLUSTER_SCOPED,
    GATEWAY_API_GATEWAY,
    canonical_kind,
    resource_name,
    store_kind,
)
from istiolab.names import ISTIO_SYSTEM

_MANAGED = ("creationTimestamp", "generation", "resourceVersion", "uid")
_GATEWAY_API_WORDS = (
    "gtw",
    "gateway.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
)


def _canonical(kind: str) -> str:
    if kind.strip().lower() in (*_GATEWAY_API_WORDS, GATEWAY_API_GATEWAY.lower()):
        return GATEWAY_API_GATEWAY
    return canonical_kind(kind)


# Namespaces a cluster with Istio installed always has
BUILTIN_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", ISTIO_SYSTEM}
)


def _key(obj: Mapping) -> tuple[str, str, str]:
    kind = store_kind(obj)
    md = obj.get("metadata") or {}
    ns = "" if kind in CLUSTER_SCOPED else str(md.get("namespace") or "default")
    return kind, ns, str(md.get("name", ""))


def _comparable(obj: Mapping) -> dict:
    """`obj` without what the store manages (a shallow view: compared, never changed)."""
    out = dict(obj)
    md = dict(out.get("metadata") or {})
    for k in _MANAGED:
        md.pop(k, None)
    out["metadata"] = md
    out.pop("status", None)
    return out


class ConfigStore:
    def __init__(self, state_dir: Path | str, settings: Any = None) -> None:
        """`settings`: the running mesh's MeshSettings, so the dry run translates (and
        encodes, for the next push to reuse) exactly what the proxies will be sent."""
        self.settings = settings
        self.dir = Path(state_dir) / "store"
        self.path = self.dir / "objects.json"
        self.backup = self.dir / "objects.json.bak"
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._subscribers: list[Callable[[int], None]] = []
        self.version = 0
        self._load()

    # -- persistence -------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            objects = data["objects"]
            version = int(data.get("version", 0))
            if not isinstance(objects, list):
                raise TypeError("'objects' is not a list")
            for i, o in enumerate(objects):
                if not isinstance(o, dict) or not isinstance(o.get("metadata"), dict):
                    raise TypeError(f"entry {i} is not a Kubernetes object ({str(o)[:40]})")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            backup = (
                f"restore the previous good copy (cp {self.backup} {self.path})"
                if self.backup.exists()
                else "restore it from a backup"
            )
            raise ConfigError(
                f"{self.path}: the config store is unreadable ({exc}); {backup} or remove "
                "it to start empty"
            ) from exc
        self._objects = {_key(o): o for o in objects}
        self.version = version

    def _write(self, objects: dict, version: int) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = json.dumps(
            {"version": version, "objects": list(objects.values())}, separators=(",", ":")
        )
        fd, tmp = tempfile.mkstemp(prefix=".objects-", suffix=".json", dir=self.dir)
        if self.path.exists():  # keep the current (good) file as the backup
            link = self.dir / f".objects-bak-{os.getpid()}"
            try:
                link.unlink(missing_ok=True)
                os.link(self.path, link)
                os.replace(link, self.backup)
            except OSError:
                link.unlink(missing_ok=True)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- reads ---------------------------------------------------------------------------
    def snapshot(self) -> list[dict]:
        """The stored objects themselves (no copy: read-only; a commit replaces objects,
        never changes them), e.g. to :meth:`restore` later."""
        with self._lock:
            return list(self._objects.values())

    def objects(self) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._objects.values()]

    def get(
        self, kind: str, name: str | None = None, namespace: str | None = "default"
    ) -> list[dict]:
        """Objects of a kind (any alias), optionally one name, in a namespace (None: all).
        Asking for one name that does not exist raises NotFoundError."""
        want = _canonical(kind).lower()
        with self._lock:
            found = [
                copy.deepcopy(o)
                for (k, ns, n), o in sorted(self._objects.items())
                if k.lower() == want
                and (name is None or n == name)
                and (namespace is None or k in CLUSTER_SCOPED or ns == namespace)
            ]
        if name is not None and not found:
            where = f" in namespace {namespace}" if namespace else ""
            raise NotFoundError(f'{_canonical(kind)} "{name}" not found{where}')
        return found

    # -- writes --------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[int], None]) -> None:
        self._subscribers.append(callback)

    def apply(self, objects: Iterable[Mapping], source: str = "<stdin>") -> list[str]:
        batch = [copy.deepcopy(dict(o)) for o in objects]
        self._check_shape(batch, source)
        _validate(batch, source)
        from istiolab.local.translate.enforcement import check_enforceable

        warnings = check_enforceable(batch, source)  # refuses what the mesh would ignore
        with self._lock:
            new = dict(self._objects)
            lines = list(warnings)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for obj in batch:
                key = _key(obj)
                md = obj.setdefault("metadata", {})
                if key[0] not in CLUSTER_SCOPED:
                    md["namespace"] = key[1]
                old = new.get(key)
                if old is not None and _comparable(old) == _comparable(obj):
                    lines.append(f"{resource_name(obj)} unchanged")
                    continue
                old_md = (old or {}).get("metadata") or {}
                md["creationTimestamp"] = old_md.get("creationTimestamp", now)
                md["generation"] = int(old_md.get("generation", 0)) + 1
                md["uid"] = old_md.get("uid") or str(uuid.uuid4())
                new[key] = obj
                lines.append(f"{resource_name(obj)} {'configured' if old else 'created'}")
            if new == self._objects:
                return lines
            _check_namespaces(batch, new, source)
            _dry_run(list(new.values()), source, self.settings)
            version = self.version + 1
            self._write(new, version)
            self._objects, self.version = new, version
        self._notify(version)
        return lines

    def restore(self, objects: Iterable[Mapping]) -> int:
        """Put back a previous configuration as it was (a rollback: no validation, it was
        stored before); a new version, so every proxy is pushed again."""
        with self._lock:
            new = {_key(o): copy.deepcopy(dict(o)) for o in objects}
            version = self.version + 1
            self._write(new, version)
            self._objects, self.version = new, version
        self._notify(version)
        return version

    def delete(self, kind: str, name: str, namespace: str = "default") -> str:
        lines, missing = self.delete_many([(kind, name, namespace)])
        if missing:
            raise NotFoundError(missing[0])
        return lines[0]

    def delete_many(self, refs: Iterable[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
        """Delete every (kind, name, namespace) that exists in one commit (one write, one
        notification), like kubectl: (the "deleted" lines, the "not found" messages)."""
        lines: list[str] = []
        missing: list[str] = []
        with self._lock:
            index = {(k[0].lower(), k[1], k[2]): k for k in self._objects}
            doomed: set[tuple[str, str, str]] = set()
            for kind, name, namespace in refs:
                canon = _canonical(kind)
                ns = "" if canon in CLUSTER_SCOPED else namespace
                key = index.get((canon.lower(), ns, name))
                if key is None or key in doomed:
                    missing.append(
                        f'{canon} "{name}" not found in namespace {namespace}: nothing deleted'
                    )
                    continue
                doomed.add(key)
                lines.append(f"{resource_name(self._objects[key])} deleted")
            if not doomed:
                return lines, missing
            new = {k: v for k, v in self._objects.items() if k not in doomed}
            version = self.version + 1
            self._write(new, version)
            self._objects, self.version = new, version
        self._notify(version)
        return lines, missing

    def _notify(self, version: int) -> None:
        errors = []
        for callback in list(self._subscribers):
            try:
                callback(version)
            except Exception as exc:  # one failing subscriber must not starve the others
                errors.append(exc)
        if errors:
            raise errors[0]

    @staticmethod
    def _check_shape(batch: list[dict], source: str) -> None:
        problems = []
        for i, obj in enumerate(batch):
            kind = str(obj.get("kind") or "")
            name = str((obj.get("metadata") or {}).get("name") or "")
            missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
            if not name:
                missing.append("metadata.name")
            for f in missing:
                problems.append(Finding(source, i, kind or "?", name or "?", f, "is required", ""))
        if problems:
            raise ValidationError(problems)


def _check_namespaces(batch: list[dict], objects: dict, source: str) -> None:
    """Like the API server: a namespaced object needs its Namespace (stored, or in the
    same batch); the built-in ones always exist."""
    known = set(BUILTIN_NAMESPACES) | {k[2] for k in objects if k[0] == "Namespace"}
    problems = []
    for i, obj in enumerate(batch):
        key = _key(obj)
        if key[0] in CLUSTER_SCOPED or key[1] in known:
            continue
        problems.append(
            Finding(
                source,
                i,
                key[0],
                key[2],
                "metadata.namespace",
                f'namespace "{key[1]}" not found',
                f"create it first (kubectl create namespace {key[1]}) or apply its "
                "Namespace in the same file",
            )
        )
    if problems:
        raise ValidationError(problems)


def _validate(batch: list[dict], source: str) -> None:
    from istiolab.manifests import validate_objects
    from istiolab.manifests.validation.envoy_limits import reserved_ports

    try:
        validate_objects(batch, source)
    except ValidationError as exc:
        findings = list(exc.findings)
    else:
        findings = []
    for i, obj in enumerate(batch):  # the ports the local sidecars own on the pod IP
        md = obj.get("metadata") or {}
        for p in reserved_ports(obj):
            kind, name = str(obj.get("kind")), str(md.get("name"))
            findings.append(Finding(source, i, kind, name, p.path, p.message, p.hint))
    if findings:
        findings.sort(key=lambda f: f.index)
        raise ValidationError(findings)
    from istiolab.local.translate.meshconfig import parse_mesh
    from istiolab.local.translate.security import check_objects

    check_objects(batch, source)  # what the local mesh cannot enforce (CUSTOM, remote JWKS)

    for i, obj in enumerate(batch):
        md = obj.get("metadata") or {}
        ns = md.get("namespace") or "default"
        if obj.get("kind") == "ConfigMap" and md.get("name") == "istio" and ns == ISTIO_SYSTEM:
            try:
                parse_mesh(str((obj.get("data") or {}).get("mesh", "")))
            except ConfigError as exc:
                raise ValidationError(
                    [Finding(source, i, "ConfigMap", "istio", "data.mesh", str(exc))]
                ) from exc


def _dry_run(objects: list[dict], source: str, settings: Any = None) -> None:
    """Translate the prospective config for the gateway and one sidecar per namespace and
    encode every resource (with the runtime's encoder, so the push that follows reuses the
    encodings); a config the translation or Envoy's schema refuses (MeshError, ConfigError)
    refuses the apply with the reason. Any other exception is a bug in istiolab and
    propagates as one, never as the user's error."""
    from istiolab.errors import MeshError
    from istiolab.local.model import MeshSettings, Proxy
    from istiolab.local.registry import build_registry, gateway_pod, is_gateway_proxy
    from istiolab.local.translate import MeshIndex, build_resources
    from istiolab.local.xds.protos import SHARED_ENCODER
    from istiolab.local.xds.server import canonical

    settings = settings or MeshSettings()
    registry, _ = build_registry(objects, settings, {})
    index = MeshIndex(objects, registry, settings)
    proxies = [Proxy("router", gateway_pod(settings))]
    seen: set[str] = set()
    for pod in registry.pods:
        if is_gateway_proxy(pod):
            proxies.append(Proxy("router", pod))
        elif pod.sidecar and pod.namespace not in seen:
            seen.add(pod.namespace)
            proxies.append(Proxy("sidecar", pod))
    for proxy in proxies:
        try:
            resources = build_resources(objects, registry, proxy, settings, index=index)
            for table in resources.by_type().values():
                for resource in table.values():
                    SHARED_ENCODER.encode(canonical(resource), resource)
        except (MeshError, ConfigError) as exc:
            raise ConfigError(
                f"{source}: the configuration cannot be translated for {proxy.pod.name}."
                f"{proxy.pod.namespace}: {exc}; nothing was applied"
            ) from exc
