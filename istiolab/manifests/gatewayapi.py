"""Kubernetes Gateway API objects of Istio's Bookinfo samples: the per-version Services
(``bookinfo-versions``: ``reviews-v1`` ... selecting ``app`` and ``version``, the backends
Gateway API routes split between) and the Bookinfo Gateway (class ``istio``, one HTTP
listener on 80) with its HTTPRoute to productpage. Facts carried over from Istio's samples;
the objects are written here."""

from __future__ import annotations

from istiolab.manifests._base import check_name, obj
from istiolab.manifests.samples import BOOKINFO_PORT, BOOKINFO_SERVICES

GATEWAY_API = "gateway.networking.k8s.io/v1"
# the paths the Bookinfo gateway sends to productpage: (match type, value)
BOOKINFO_PATHS = (
    ("Exact", "/productpage"),
    ("PathPrefix", "/static"),
    ("Exact", "/login"),
    ("Exact", "/logout"),
    ("PathPrefix", "/api/v1/products"),
)


def bookinfo_versions(namespace: str = "default") -> list[dict]:
    """One Service ``<svc>-<version>`` per Bookinfo Deployment (port 9080, ``http``)."""
    check_name("namespace", namespace)
    return [
        obj(
            "v1",
            "Service",
            f"{service}-{version}",
            namespace,
            spec={
                "ports": [{"port": BOOKINFO_PORT, "name": "http"}],
                "selector": {"app": service, "version": version},
            },
        )
        for service, versions in BOOKINFO_SERVICES.items()
        for version in versions
    ]


def gateway(
    name: str, namespace: str = "default", *, port: int = 80, hostname: str | None = None
) -> dict:
    """A Gateway of class ``istio`` with one HTTP listener, routes from its own namespace."""
    listener: dict = {"name": "http", "port": port, "protocol": "HTTP"}
    if hostname:
        listener["hostname"] = hostname
    listener["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    return obj(
        GATEWAY_API,
        "Gateway",
        check_name("name", name),
        namespace,
        spec={"gatewayClassName": "istio", "listeners": [listener]},
    )


def bookinfo_gateway_api(namespace: str = "default") -> list[dict]:
    """``bookinfo-gateway`` and the HTTPRoute ``bookinfo`` sending Bookinfo's paths to
    productpage:9080."""
    route = obj(
        GATEWAY_API,
        "HTTPRoute",
        "bookinfo",
        namespace,
        spec={
            "parentRefs": [{"name": "bookinfo-gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": t, "value": v}} for t, v in BOOKINFO_PATHS],
                    "backendRefs": [{"name": "productpage", "port": BOOKINFO_PORT}],
                }
            ],
        },
    )
    return [gateway("bookinfo-gateway", namespace), route]
