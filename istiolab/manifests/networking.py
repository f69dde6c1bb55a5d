"""The Bookinfo ingress (Gateway + VirtualService) and the DestinationRules with subsets."""

from __future__ import annotations

import re
from collections.abc import Iterable

from istiolab.errors import ParameterError
from istiolab.manifests._base import NETWORKING, check_name, obj
from istiolab.manifests.samples import BOOKINFO_PORT, BOOKINFO_SERVICES, HTTPBIN_VERSIONS

GATEWAY_NAME = "bookinfo-gateway"
INGRESS_SELECTOR = {"istio": "ingressgateway"}

# The paths productpage serves through the gateway.
BOOKINFO_MATCHES: tuple[tuple[str, str], ...] = (
    ("exact", "/productpage"),
    ("prefix", "/static"),
    ("exact", "/login"),
    ("exact", "/logout"),
    ("prefix", "/api/v1/products"),
)

# Subsets per service: the versions the samples deploy.
SUBSETS: dict[str, tuple[str, ...]] = {**BOOKINFO_SERVICES, "httpbin": HTTPBIN_VERSIONS}

_HOST = re.compile(r"^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$")


def check_hosts(parameter: str, hosts: Iterable[str]) -> list[str]:
    if isinstance(hosts, str):
        hosts = (hosts,)
    values = list(hosts)
    if not values or any(not isinstance(h, str) or not _HOST.match(h) for h in values):
        raise ParameterError(
            parameter,
            tuple(values),
            "one or more host names such as '*', 'bookinfo.app' or '*.example.com'",
        )
    return values


def bookinfo_gateway(namespace: str = "default", *, hosts: Iterable[str] = ("*",)) -> list[dict]:
    """Gateway `bookinfo-gateway` (port 80 HTTP on the default ingress gateway) and
    VirtualService `bookinfo` routing productpage's paths to productpage:9080."""
    check_name("namespace", namespace)
    host_list = check_hosts("hosts", hosts)
    gateway = obj(
        NETWORKING,
        "Gateway",
        GATEWAY_NAME,
        namespace,
        spec={
            "selector": dict(INGRESS_SELECTOR),
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": list(host_list),
                }
            ],
        },
    )
    virtual_service = obj(
        NETWORKING,
        "VirtualService",
        "bookinfo",
        namespace,
        spec={
            "hosts": list(host_list),
            "gateways": [GATEWAY_NAME],
            "http": [
                {
                    "match": [{"uri": {kind: path}} for kind, path in BOOKINFO_MATCHES],
                    "route": [
                        {
                            "destination": {
                                "host": "productpage",
                                "port": {"number": BOOKINFO_PORT},
                            }
                        }
                    ],
                }
            ],
        },
    )
    return [gateway, virtual_service]


def destination_rule(
    service: str,
    namespace: str = "default",
    *,
    subsets: Iterable[str] = ("v1",),
    mtls: bool = False,
    traffic_policy: dict | None = None,
    name: str | None = None,
) -> dict:
    """One DestinationRule for `service` with a subset per version (label `version`)."""
    check_name("service", service)
    check_name("namespace", namespace)
    spec: dict = {"host": service}
    policy = dict(traffic_policy or {})
    if mtls:
        policy["tls"] = {"mode": "ISTIO_MUTUAL"}
    if policy:
        spec["trafficPolicy"] = policy
    subset_list = [check_name("subsets", v) for v in subsets]
    if subset_list:
        spec["subsets"] = [{"name": v, "labels": {"version": v}} for v in subset_list]
    return obj(NETWORKING, "DestinationRule", name or service, namespace, spec=spec)


def destination_rules(
    namespace: str = "default",
    *,
    mtls: bool = False,
    services: Iterable[str] = tuple(BOOKINFO_SERVICES),
) -> list[dict]:
    """DestinationRules for every Bookinfo service (or the `services` named, which may
    include httpbin), subsets v1/v2/v3 by the `version` label; `mtls=True` adds
    `tls.mode: ISTIO_MUTUAL` as the mTLS variant does."""
    if isinstance(services, str):
        services = (services,)
    wanted = tuple(services)
    unknown = [s for s in wanted if s not in SUBSETS]
    if unknown or not wanted:
        raise ParameterError("services", wanted, "a non-empty subset of " + ", ".join(SUBSETS))
    return [destination_rule(s, namespace, subsets=SUBSETS[s], mtls=mtls) for s in wanted]
