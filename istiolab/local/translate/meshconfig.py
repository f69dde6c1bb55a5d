"""Mesh-wide settings, read the way a cluster holds them.

Convention: a ConfigMap named ``istio`` in ``istio-system`` whose ``data.mesh`` is the
MeshConfig YAML (exactly what ``kubectl -n istio-system edit cm istio`` shows on a
cluster). Apply it with ``istiolab apply -f``; the change is pushed live. Fields used:

- ``outboundTrafficPolicy.mode``: ``ALLOW_ANY`` (default) or ``REGISTRY_ONLY``;
- ``accessLogFile``: default ``/dev/stdout`` locally (Istio's demo profile), ``""`` turns
  access logs off; the runtime captures each Envoy's stdout;
- ``accessLogEncoding``: ``TEXT`` (default, Istio's default format) or ``JSON``;
- ``accessLogFormat``: a custom Envoy format string;
- ``defaultHttpRetryPolicy``: the retry policy used when a route sets none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from istiolab.errors import ConfigError
from istiolab.local.model import ISTIO_SYSTEM

ALLOW_ANY = "ALLOW_ANY"
REGISTRY_ONLY = "REGISTRY_ONLY"


@dataclass(frozen=True)
class MeshConfig:
    outbound_mode: str = ALLOW_ANY
    access_log_file: str = "/dev/stdout"
    access_log_encoding: str = "TEXT"
    access_log_format: str = ""
    default_retry: Mapping | None = None
    raw: Mapping = field(default_factory=dict)


def parse_mesh(text: str, source: str = "configmap istio-system/istio data.mesh") -> MeshConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: must be a mapping of MeshConfig fields")
    mode = (data.get("outboundTrafficPolicy") or {}).get("mode", ALLOW_ANY)
    if mode not in (ALLOW_ANY, REGISTRY_ONLY):
        raise ConfigError(
            f"{source}: outboundTrafficPolicy.mode={mode!r} is not allowed: "
            f"use {ALLOW_ANY} or {REGISTRY_ONLY}"
        )
    encoding = str(data.get("accessLogEncoding", "TEXT")).upper()
    if encoding not in ("TEXT", "JSON"):
        raise ConfigError(
            f"{source}: accessLogEncoding={encoding!r} is not allowed: use TEXT or JSON"
        )
    return MeshConfig(
        outbound_mode=mode,
        access_log_file=str(data.get("accessLogFile", "/dev/stdout")),
        access_log_encoding=encoding,
        access_log_format=str(data.get("accessLogFormat", "")),
        default_retry=data.get("defaultHttpRetryPolicy"),
        raw=data,
    )


def mesh_config(objects: Iterable[Mapping]) -> MeshConfig:
    """The MeshConfig from the ``istio`` ConfigMap in istio-system, or the defaults."""
    for obj in objects:
        md = obj.get("metadata") or {}
        if (
            obj.get("kind") == "ConfigMap"
            and md.get("name") == "istio"
            and md.get("namespace") == ISTIO_SYSTEM
        ):
            return parse_mesh(str((obj.get("data") or {}).get("mesh", "")))
    return MeshConfig()
