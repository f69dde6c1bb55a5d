"""EnvoyFilter, the part the Istio docs and the seeds use: ``applyTo: HTTP_FILTER`` patches
that add an HTTP filter to the HTTP connection managers of a proxy (the local rate limit
and Lua examples), with ``INSERT_BEFORE``/``INSERT_AFTER``/``INSERT_FIRST``/``ADD``
relative to ``match.listener.filterChain.filter.subFilter.name`` (the router when unnamed).

Selection as Istio's: an EnvoyFilter in the root namespace (istio-system) applies to every
proxy its ``workloadSelector`` matches, one in another namespace to that namespace's
proxies; ``match.context`` (SIDECAR_INBOUND, SIDECAR_OUTBOUND, GATEWAY, ANY) and
``match.listener.portNumber`` pick the listeners. A ``typed_config`` given as a
``udpa.type.v1.TypedStruct``/``xds.type.v3.TypedStruct`` is unpacked to its type.

Everything else EnvoyFilter can do is refused at apply by :func:`unsupported_patches` with
the reason, so no EnvoyFilter is stored that would have no effect.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from istiolab.local.model import ISTIO_SYSTEM, Proxy
from istiolab.local.translate.common import labels_match, meta

HCM = "envoy.filters.network.http_connection_manager"
ROUTER = "envoy.filters.http.router"
OPERATIONS = ("INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "ADD")
CONTEXTS = ("ANY", "SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY")
TYPED_STRUCTS = (
    "type.googleapis.com/udpa.type.v1.TypedStruct",
    "type.googleapis.com/xds.type.v3.TypedStruct",
)


def unsupported_patches(obj: Mapping) -> list[tuple[str, str]]:
    """(field path, reason) for each patch of an EnvoyFilter the local mesh cannot apply."""
    out = []
    for i, patch in enumerate((obj.get("spec") or {}).get("configPatches") or []):
        where = f"spec.configPatches[{i}]"
        apply_to = patch.get("applyTo")
        operation = (patch.get("patch") or {}).get("operation")
        context = (patch.get("match") or {}).get("context", "ANY")
        if apply_to != "HTTP_FILTER":
            out.append((f"{where}.applyTo", f"applyTo {apply_to} is not supported"))
        elif operation not in OPERATIONS:
            out.append((f"{where}.patch.operation", f"operation {operation} is not supported"))
        elif context not in CONTEXTS:
            out.append((f"{where}.match.context", f"context {context} is not supported"))
        elif not ((patch.get("patch") or {}).get("value") or {}).get("name"):
            out.append((f"{where}.patch.value.name", "the filter to insert needs a name"))
    return out


def _selected(obj: Mapping, proxy: Proxy) -> bool:
    _, ns = meta(obj)
    if ns not in (ISTIO_SYSTEM, proxy.pod.namespace):
        return False
    selector = ((obj.get("spec") or {}).get("workloadSelector") or {}).get("labels")
    return labels_match(selector, proxy.pod.labels)


def _context(listener: Mapping, proxy: Proxy) -> str:
    if proxy.type == "router":
        return "GATEWAY"
    return (
        "SIDECAR_INBOUND" if listener.get("traffic_direction") == "INBOUND" else "SIDECAR_OUTBOUND"
    )


def _unpack(value: Mapping) -> dict:
    value = copy.deepcopy(dict(value))
    typed = value.get("typed_config") or {}
    if typed.get("@type") in TYPED_STRUCTS:
        value["typed_config"] = {"@type": typed.get("type_url", ""), **(typed.get("value") or {})}
    return value


def _insert(filters: list[dict], operation: str, sub: str | None, value: dict) -> list[dict]:
    names = [f.get("name") for f in filters]
    router = names.index(ROUTER) if ROUTER in names else len(filters)
    if operation == "INSERT_FIRST" or (operation == "INSERT_BEFORE" and not sub):
        at = 0
    elif operation == "INSERT_BEFORE":
        if sub not in names:
            return filters
        at = names.index(sub)
    elif operation == "INSERT_AFTER" and sub:
        if sub not in names:
            return filters
        at = min(names.index(sub) + 1, router)
    else:  # ADD, INSERT_AFTER without a sub-filter: last before the router
        at = router
    return [*filters[:at], value, *filters[at:]]


def apply_envoy_filters(
    objects: list[dict], proxy: Proxy, listeners: dict[str, dict]
) -> dict[str, dict]:
    """``listeners`` with the HTTP_FILTER patches of the EnvoyFilters selecting ``proxy``."""
    patches = [
        p
        for obj in objects
        if obj.get("kind") == "EnvoyFilter" and _selected(obj, proxy)
        for p in (obj.get("spec") or {}).get("configPatches") or []
        if p.get("applyTo") == "HTTP_FILTER"
    ]
    if not patches:
        return listeners
    out = {}
    for name, listener in listeners.items():
        listener = copy.deepcopy(listener)
        context = _context(listener, proxy)
        port = int(
            ((listener.get("address") or {}).get("socket_address") or {}).get("port_value", 0)
        )
        for patch in patches:
            match = patch.get("match") or {}
            if match.get("context", "ANY") not in ("ANY", context):
                continue
            lmatch = match.get("listener") or {}
            if lmatch.get("portNumber") and int(lmatch["portNumber"]) != port:
                continue
            fmatch = (lmatch.get("filterChain") or {}).get("filter") or {}
            sub = (fmatch.get("subFilter") or {}).get("name")
            body = patch.get("patch") or {}
            value = _unpack(body.get("value") or {})
            for chain in listener.get("filter_chains") or []:
                for f in chain.get("filters") or []:
                    if f.get("name") != HCM:
                        continue
                    config = f["typed_config"]
                    config["http_filters"] = _insert(
                        config["http_filters"], body["operation"], sub, value
                    )
        out[name] = listener
    return out
