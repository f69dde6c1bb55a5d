"""The status Istio writes back on Gateway API objects (pure): ``Accepted``,
``ResolvedRefs`` and ``Programmed`` with Istio's reasons and messages, so ``get -o yaml``
shows why a route is not in effect.

:func:`with_status` returns copies of Gateway API objects with their ``status`` filled from
the whole configuration and the registry (a Gateway's address is its proxy pod's IP; with
no registry, a mesh that is not running, Gateways are not Programmed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from istiolab.local.model import CLUSTER_DOMAIN, Registry
from istiolab.local.translate.common import meta
from istiolab.local.translate.gatewayapi import (
    CONTROLLER,
    GROUP,
    GatewayApi,
    is_gateway_api,
    proxy_name,
)
from istiolab.local.translate.names import host_matches


def condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> dict:
    return {
        "type": kind,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "1970-01-01T00:00:00Z",
    }


def _generation(obj: Mapping) -> int:
    return int((obj.get("metadata") or {}).get("generation", 1) or 1)


def with_status(
    found: Iterable[Mapping], objects: list[dict], registry: Registry | None
) -> list[dict]:
    """Copies of ``found`` with the status of each Gateway API object set."""
    api = GatewayApi(objects)
    out = []
    for obj in found:
        obj = dict(obj)
        if is_gateway_api(obj):
            status = object_status(api, obj, registry)
            if status is not None:
                obj["status"] = status
        out.append(obj)
    return out


def object_status(api: GatewayApi, obj: Mapping, registry: Registry | None) -> dict | None:
    kind = obj.get("kind")
    gen = _generation(obj)
    if kind == "GatewayClass":
        if (obj.get("spec") or {}).get("controllerName") != CONTROLLER:
            return None  # another controller's class: Istio leaves it alone
        return {
            "conditions": [
                condition("Accepted", True, "Accepted", "Handled by Istio controller", gen)
            ]
        }
    if kind == "Gateway":
        return gateway_status(api, obj, registry) if api.istio_class(obj) else None
    if kind in ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"):
        return route_status(api, obj)
    return None


def gateway_status(api: GatewayApi, gw: Mapping, registry: Registry | None) -> dict:
    name, ns = meta(gw)
    gen = _generation(gw)
    pod = None
    if registry is not None:
        svc = registry.service(proxy_name(name), ns)
        pods = registry.endpoints(svc) if svc is not None else ()
        pod = pods[0] if pods else None
    listeners = (gw.get("spec") or {}).get("listeners") or []
    rows = []
    bad_refs = []
    for li in listeners:
        rows.append(_listener_status(api, gw, li, gen, bad_refs))
    ports = ", ".join(
        f"{proxy_name(name)}.{ns}.svc.{CLUSTER_DOMAIN}:{p}"
        for p in sorted({int(li.get("port", 80)) for li in listeners})
    )
    if pod is None:
        programmed = condition(
            "Programmed",
            False,
            "AddressNotAssigned",
            "Assigned to service(s) " + ports + ", but failed to assign to all requested "
            "addresses: the gateway proxy is not running (start the mesh: istiolab up)",
            gen,
        )
    elif bad_refs:
        programmed = condition("Programmed", False, "Invalid", "; ".join(bad_refs), gen)
    else:
        programmed = condition(
            "Programmed",
            True,
            "Programmed",
            f"Resource programmed, assigned to service(s) {ports}",
            gen,
        )
    status: dict = {
        "conditions": [
            condition("Accepted", True, "Accepted", "Resource accepted", gen),
            programmed,
        ],
        "listeners": rows,
    }
    if pod is not None:
        status["addresses"] = [{"type": "IPAddress", "value": pod.ip}]
    return status


def _listener_status(api: GatewayApi, gw: Mapping, li: Mapping, gen: int, bad: list[str]) -> dict:
    kinds = api.listener_kinds(li)
    attached = 0
    for kind in kinds:
        for route in api.of(kind):
            for ref in (route.get("spec") or {}).get("parentRefs") or []:
                which, parent = api.parent(route, ref)
                if (
                    which == "gateway"
                    and meta(parent) == meta(gw)
                    and li in api.listeners_for(route, gw, ref)
                ):
                    attached += 1
    resolved = condition("ResolvedRefs", True, "ResolvedRefs", "No errors found", gen)
    tls = li.get("tls") or {}
    if li.get("protocol") in ("HTTPS", "TLS") and tls.get("mode", "Terminate") == "Terminate":
        for ref in tls.get("certificateRefs") or [{}]:
            ns = ref.get("namespace") or meta(gw)[1]
            found = api.certificate(gw, ref) if ref else None
            secret = found and any(meta(s) == (found[1], found[0]) for s in api.secrets)
            if not secret:
                msg = f"invalid certificate reference /v1, Kind=Secret/{ns}/{ref.get('name', '')}."
                if found is None and ref and ns != meta(gw)[1]:
                    msg += " (missing a ReferenceGrant?)"
                else:
                    msg += f" secret {ns}/{ref.get('name', '')} not found"
                resolved = condition("ResolvedRefs", False, "InvalidCertificateRef", msg, gen)
                bad.append(f"listener {li.get('name')}: {msg}")
    ok = resolved["status"] == "True"
    return {
        "name": li.get("name"),
        "supportedKinds": [{"group": GROUP, "kind": k} for k in kinds],
        "attachedRoutes": attached,
        "conditions": [
            condition("Accepted", True, "Accepted", "No errors found", gen),
            condition("NoConflicts", False, "NoConflicts", "No errors found", gen),
            condition(
                "Programmed",
                ok,
                "Programmed" if ok else "Invalid",
                "No errors found" if ok else "Bad TLS configuration",
                gen,
            ),
            resolved,
        ],
    }


def route_status(api: GatewayApi, route: Mapping) -> dict:
    _, ns = meta(route)
    gen = _generation(route)
    spec = route.get("spec") or {}
    resolved = condition("ResolvedRefs", True, "ResolvedRefs", "All references resolved", gen)
    refs = [
        b
        for rule in spec.get("rules") or []
        for b in [*(rule.get("backendRefs") or []), *_mirror_refs(rule)]
    ]
    for ref in refs:
        if api.backend(route, ref) is not None:
            continue
        target_ns = str(ref.get("namespace") or ns)
        name = str(ref.get("name", ""))
        if ref.get("kind", "Service") != "Service":
            resolved = condition(
                "ResolvedRefs",
                False,
                "InvalidKind",
                f"referencing unsupported backendRef: group {ref.get('group', '')!r} "
                f"kind {ref.get('kind')!r}",
                gen,
            )
        elif (target_ns, name) in api.services:
            resolved = condition(
                "ResolvedRefs",
                False,
                "RefNotPermitted",
                f"backendRef {name}/{target_ns} not accessible to a {route.get('kind')} "
                f'in namespace "{ns}" (missing a ReferenceGrant?)',
                gen,
            )
        else:
            resolved = condition(
                "ResolvedRefs",
                False,
                "BackendNotFound",
                f"backend({name}.{target_ns}.svc.{CLUSTER_DOMAIN}) not found",
                gen,
            )
        break
    parents = []
    for ref in spec.get("parentRefs") or []:
        accepted = _accepted(api, route, ref, gen)
        parent_ref = {"group": ref.get("group", GROUP), "kind": ref.get("kind", "Gateway"), **ref}
        parents.append(
            {
                "parentRef": parent_ref,
                "controllerName": CONTROLLER,
                "conditions": [accepted, resolved],
            }
        )
    return {"parents": parents}


def _mirror_refs(rule: Mapping) -> list[Mapping]:
    return [
        (f.get("requestMirror") or {}).get("backendRef") or {}
        for f in rule.get("filters") or []
        if f.get("type") == "RequestMirror"
    ]


def _accepted(api: GatewayApi, route: Mapping, ref: Mapping, gen: int) -> dict:
    which, parent = api.parent(route, ref)
    _, ns = meta(route)
    if parent is None:
        kind = ref.get("kind", "Gateway")
        target = f"{ref.get('namespace') or ns}/{ref.get('name')}"
        what = "parent service" if kind == "Service" else "parent gateway"
        return condition("Accepted", False, "NoMatchingParent", f"{what} {target} not found", gen)
    if which == "service":
        return condition("Accepted", True, "Accepted", "Route was valid", gen)
    if not api.istio_class(parent):
        return condition(
            "Accepted", False, "NoMatchingParent", "parent gateway is not managed by Istio", gen
        )
    listeners = [
        li
        for li in (parent.get("spec") or {}).get("listeners") or []
        if not ref.get("sectionName") or li.get("name") == ref["sectionName"]
    ]
    if not listeners:
        return condition(
            "Accepted",
            False,
            "NoMatchingParent",
            f"no listener named {ref.get('sectionName')!r} on the parent gateway",
            gen,
        )
    attached = api.listeners_for(route, parent, ref)
    if not attached:
        return condition(
            "Accepted",
            False,
            "NotAllowedByListeners",
            f"kind {route.get('kind')} or namespace {ns} is not allowed by the parent's listeners "
            "(allowedRoutes)",
            gen,
        )
    hostnames = [str(h) for h in (route.get("spec") or {}).get("hostnames") or []]
    if hostnames and route.get("kind") in ("HTTPRoute", "GRPCRoute", "TLSRoute"):
        listener_hosts = [str(li.get("hostname") or "*") for li in attached]
        if not any(host_matches(lh, h) for lh in listener_hosts for h in hostnames):
            return condition(
                "Accepted",
                False,
                "NoMatchingListenerHostname",
                f"no hostnames matched parent hostname {', '.join(listener_hosts)!r}",
                gen,
            )
    return condition("Accepted", True, "Accepted", "Route was valid", gen)


def route_findings(
    objects: list[dict], registry: Registry | None
) -> list[tuple[str, str, str, str, str, str]]:
    """(level, code, kind, name, namespace, message): ISTL0102 for each Gateway API route
    condition that is not True (why a route is not in effect), as its status says."""
    api = GatewayApi(objects)
    out = []
    for kind in ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute"):
        for route in api.of(kind):
            name, ns = meta(route)
            for parent in route_status(api, route)["parents"]:
                for c in parent["conditions"]:
                    if c["status"] != "True":
                        message = f"{c['type']} {c['reason']}: {c['message']}"
                        out.append(("Error", "ISTL0102", kind, name, ns, message))
    return out
