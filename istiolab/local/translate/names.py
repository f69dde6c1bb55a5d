"""Istio's names and host resolution.

- Cluster names: ``outbound|<port>|<subset>|<fqdn>`` and ``inbound|<port>||``.
- Host resolution: a short name (``reviews``) resolves in the namespace of the object
  that names it; ``reviews.default`` and ``reviews.default.svc`` are expanded too (a
  convenience the local mesh offers when the second label is a known namespace); anything
  else is taken literally (FQDNs, ServiceEntry hosts, wildcards).
- Visibility: ``exportTo`` (``*`` everyone, ``.`` own namespace, or namespace names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from istiolab.local.model import CLUSTER_DOMAIN

PASSTHROUGH = "PassthroughCluster"
BLACKHOLE = "BlackHoleCluster"
HTTP_PROXY_ROUTE = "http_proxy"
OUTBOUND_LISTENER = "virtualOutbound"


def outbound(port: int, host: str, subset: str = "") -> str:
    return f"outbound|{port}|{subset}|{host}"


def inbound(port: int) -> str:
    return f"inbound|{port}||"


def trace_operation(host: str, port: int) -> str:
    """Istio's decorator operation of a service's default outbound and inbound routes
    (``productpage.default.svc.cluster.local:9080/*``): the span name, and the
    ``x-envoy-decorator-operation`` header an inbound sidecar returns."""
    return f"{host}:{port}/*"


def parse_cluster(name: str) -> tuple[str, int, str, str] | None:
    """``outbound|9080|v1|reviews...`` -> (direction, port, subset, host); None otherwise."""
    parts = name.split("|")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2], parts[3]


def fqdn(host: str, namespace: str, namespaces: Iterable[str] = ()) -> str:
    """Resolve a host as Istio does, relative to ``namespace`` (see module docstring)."""
    host = host.strip().lower()
    if host == "*" or host.startswith("*."):
        return host
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.{CLUSTER_DOMAIN}"
    known = namespaces if isinstance(namespaces, set | frozenset) else set(namespaces)
    if len(parts) == 2 and parts[1] in known:
        return f"{host}.svc.{CLUSTER_DOMAIN}"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.{CLUSTER_DOMAIN}"
    return host


def host_matches(pattern: str, host: str) -> bool:
    """Istio host matching: exact, ``*`` or a ``*.suffix`` wildcard."""
    if "*" in (pattern, host) or pattern == host:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    if host.startswith("*."):
        return pattern.endswith(host[1:])
    return False


def more_specific(a: str, b: str) -> str:
    """Of two matching hosts, the narrower one (``bookinfo.app`` over ``*``)."""
    if a.startswith("*") and not b.startswith("*"):
        return b
    if b.startswith("*") and not a.startswith("*"):
        return a
    return a if len(a) >= len(b) else b


def exported_to(obj: Mapping, viewer_namespace: str) -> bool:
    """Whether a VirtualService/DestinationRule/ServiceEntry is visible from a namespace."""
    export = (obj.get("spec") or {}).get("exportTo")
    own = (obj.get("metadata") or {}).get("namespace") or "default"
    if not export:
        return True
    for entry in export:
        if entry == "*" or (entry == "." and own == viewer_namespace):
            return True
        if entry == viewer_namespace:
            return True
    return False


def gateway_names(vs: Mapping) -> list[str]:
    """A VirtualService's gateways, namespace-qualified (``mesh`` stays ``mesh``)."""
    ns = (vs.get("metadata") or {}).get("namespace") or "default"
    gws = (vs.get("spec") or {}).get("gateways") or ["mesh"]
    return [g if g == "mesh" or "/" in g else f"{ns}/{g}" for g in gws]


def service_domains(name: str, namespace: str, port: int, *, local: bool, portless: bool):
    """The Host values a client may use for a service port, as Istio lists them."""
    fq = f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"
    bases = [fq, f"{name}.{namespace}.svc", f"{name}.{namespace}"]
    if local:
        bases.append(name)
    out = []
    for base in bases:
        if portless:
            out.append(base)
        out.append(f"{base}:{port}")
    return out
