"""ClusterLoadAssignments: the pods behind a service port (and subset), or a
ServiceEntry's endpoints. Endpoint port = the service's targetPort."""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.local.translate.common import labels_match, socket_address
from istiolab.local.translate.context import Context, ServiceHost


def load_assignment(cluster_name: str, addresses: list[tuple[str, int]]) -> dict:
    lb_endpoints = [
        {"endpoint": {"address": socket_address(ip, port)}, "health_status": "HEALTHY"}
        for ip, port in addresses
    ]
    body: dict = {"cluster_name": cluster_name, "endpoints": []}
    if lb_endpoints:
        body["endpoints"] = [{"locality": {}, "lb_endpoints": lb_endpoints}]
    return body


def entry_endpoints(
    entry: Mapping, port: tuple[int, str, int], labels: Mapping[str, str] | None = None
) -> list[tuple[str, int]]:
    """A ServiceEntry's endpoints for one port: (address, port) pairs."""
    spec = entry.get("spec") or {}
    port_name = next(
        (p.get("name") for p in spec.get("ports") or [] if int(p["number"]) == port[0]), None
    )
    out = []
    for ep in spec.get("endpoints") or []:
        if labels is not None and not labels_match(labels, ep.get("labels") or {}):
            continue
        number = (ep.get("ports") or {}).get(port_name) if port_name else None
        out.append((str(ep["address"]), int(number or port[2])))
    return out


def addresses(
    ctx: Context, host: ServiceHost, port: tuple[int, str, int], labels: Mapping | None
) -> list[tuple[str, int]]:
    if host.service is not None:
        pods = ctx.index.endpoints(host.service)
        return sorted(
            (p.ip, port[2]) for p in pods if labels is None or labels_match(labels, p.labels)
        )
    if host.entry is not None:
        return entry_endpoints(host.entry, port, labels)
    return []
