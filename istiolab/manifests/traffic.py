"""Traffic-management presets: the routing, fault, resilience and egress set-ups of the
Istio tasks and the seed documents, each a function of a few typed parameters.

    traffic_preset("weighted", weights=(90, 10))
    traffic_preset("fault-delay", delay="7s", percent=100, user="jason")
    traffic_preset("circuit-breaker", max_connections=1, max_pending=1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from istiolab.errors import ParameterError
from istiolab.manifests import _presets
from istiolab.manifests._base import (
    NETWORKING,
    check_choice,
    check_duration,
    check_int,
    check_name,
    check_percent,
    check_weights,
    obj,
)
from istiolab.manifests.networking import SUBSETS, check_hosts, destination_rule
from istiolab.manifests.samples import BOOKINFO_SERVICES
from istiolab.manifests.validation.semantic import HTTP_CODES, RETRY_ON


def _dest(host: str, subset: str | None = None) -> dict:
    out: dict[str, Any] = {"host": host}
    if subset:
        out["subset"] = subset
    return out


def _subset(parameter: str, host: str, subset: str) -> str:
    known = SUBSETS.get(host)
    if known is not None and subset not in known:
        raise ParameterError(parameter, subset, f"a subset of {host}: " + ", ".join(known))
    return check_name(parameter, subset)


def _virtual_service(name: str, namespace: str, http: list[dict], host: str | None = None) -> dict:
    return obj(
        NETWORKING, "VirtualService", name, namespace, spec={"hosts": [host or name], "http": http}
    )


def _user_match(user: str | None) -> dict:
    return {"match": [{"headers": {"end-user": {"exact": user}}}]} if user else {}


def all_v1(namespace: str = "default") -> list[dict]:
    """Every Bookinfo service to its v1 (virtual-service-all-v1)."""
    return [
        _virtual_service(s, namespace, [{"route": [{"destination": _dest(s, "v1")}]}])
        for s in BOOKINFO_SERVICES
    ]


def user_route(
    namespace: str = "default",
    *,
    user: str = "jason",
    subset: str = "v2",
    default_subset: str = "v1",
) -> list[dict]:
    """reviews: requests with header `end-user: <user>` to `subset`, the rest to
    `default_subset` (the request-routing task's end-user jason rule)."""
    if not isinstance(user, str) or not user:
        raise ParameterError("user", user, "a non-empty user name (the end-user header value)")
    http = [
        {**_user_match(user), "route": [{"destination": _dest("reviews", subset)}]},
        {"route": [{"destination": _dest("reviews", default_subset)}]},
    ]
    _subset("subset", "reviews", subset)
    _subset("default_subset", "reviews", default_subset)
    return [_virtual_service("reviews", namespace, http)]


def weighted(
    namespace: str = "default",
    *,
    host: str = "reviews",
    subsets: Iterable[str] = ("v1", "v2"),
    weights: Iterable[int] = (50, 50),
) -> list[dict]:
    """Split `host`'s traffic over `subsets` by `weights` (e.g. 99/1, 50/50, 90/10; they
    must sum to 100)."""
    check_name("host", host)
    subset_list = [
        _subset("subsets", host, s) for s in ([subsets] if isinstance(subsets, str) else subsets)
    ]
    if not subset_list:
        raise ParameterError("subsets", tuple(subset_list), "at least one subset")
    values = check_weights("weights", weights, len(subset_list))
    route = [
        {"destination": _dest(host, s), "weight": w}
        for s, w in zip(subset_list, values, strict=True)
    ]
    return [_virtual_service(host, namespace, [{"route": route}])]


def header_route(
    namespace: str = "default",
    *,
    host: str = "reviews",
    header: str = "device",
    value: str = "android",
    subset: str = "v2",
    default_subset: str = "v1",
) -> list[dict]:
    """Requests carrying `header: value` (exact) to `subset`, the rest to `default_subset`."""
    check_name("host", host)
    if not isinstance(header, str) or not header or header.lower() != header:
        raise ParameterError("header", header, "a non-empty, lower-case HTTP header name")
    if not isinstance(value, str) or not value:
        raise ParameterError("value", value, "a non-empty header value")
    http = [
        {
            "match": [{"headers": {header: {"exact": value}}}],
            "route": [{"destination": _dest(host, _subset("subset", host, subset))}],
        },
        {"route": [{"destination": _dest(host, _subset("default_subset", host, default_subset))}]},
    ]
    return [_virtual_service(host, namespace, http)]


def fault_delay(
    namespace: str = "default",
    *,
    host: str = "ratings",
    delay: str = "7s",
    percent: float = 100,
    user: str | None = "jason",
    subset: str = "v1",
) -> list[dict]:
    """Delay `percent` % of the requests to `host` (for `user` only, or everyone when
    `user` is None) by `delay` (the fault-injection task: ratings, jason, 7s)."""
    check_name("host", host)
    fault = {
        "delay": {
            "percentage": {"value": check_percent("percent", percent)},
            "fixedDelay": check_duration("delay", delay),
        }
    }
    return [_fault_service(namespace, host, subset, user, fault)]


def fault_abort(
    namespace: str = "default",
    *,
    host: str = "ratings",
    status: int = 500,
    percent: float = 100,
    user: str | None = "jason",
    subset: str = "v1",
) -> list[dict]:
    """Abort `percent` % of the requests to `host` with HTTP `status` (for `user` only, or
    everyone when `user` is None)."""
    check_name("host", host)
    fault = {
        "abort": {
            "percentage": {"value": check_percent("percent", percent)},
            "httpStatus": check_int("status", status, minimum=200, maximum=599),
        }
    }
    return [_fault_service(namespace, host, subset, user, fault)]


def _fault_service(namespace: str, host: str, subset: str, user: str | None, fault: dict) -> dict:
    subset = _subset("subset", host, subset)
    route = [{"destination": _dest(host, subset)}]
    http = [{**_user_match(user), "fault": fault, "route": route}]
    if user:
        http.append({"route": route})
    return _virtual_service(host, namespace, http)


def timeout(
    namespace: str = "default",
    *,
    timeout: str = "0.5s",
    ratings_delay: str | None = "2s",
) -> list[dict]:
    """The request-timeouts task: reviews to v2 with a `timeout`, and (unless
    `ratings_delay` is None) every call to ratings delayed by `ratings_delay`."""
    out = [
        _virtual_service(
            "reviews",
            namespace,
            [
                {
                    "route": [{"destination": _dest("reviews", "v2")}],
                    "timeout": check_duration("timeout", timeout),
                }
            ],
        )
    ]
    if ratings_delay is not None:
        out += fault_delay(namespace, delay=ratings_delay, percent=100, user=None)
    return out


def retries(
    namespace: str = "default",
    *,
    host: str = "ratings",
    subset: str = "v1",
    attempts: int = 3,
    per_try_timeout: str = "2s",
    retry_on: str | None = None,
) -> list[dict]:
    """Retry failed calls to `host` up to `attempts` (>= 1) times, `per_try_timeout` each;
    `retry_on` is a comma-separated list of Envoy retry conditions and HTTP codes."""
    check_name("host", host)
    policy: dict[str, Any] = {
        "attempts": check_int("attempts", attempts, minimum=1),  # 0 turns retries off
        "perTryTimeout": check_duration("per_try_timeout", per_try_timeout),
    }
    if retry_on is not None:
        policy["retryOn"] = _retry_on(retry_on)
    route = [{"destination": _dest(host, _subset("subset", host, subset))}]
    return [_virtual_service(host, namespace, [{"route": route, "retries": policy}])]


def _retry_on(value: object) -> str:
    """retryOn from a comma-separated string or a list (`--set traffic.retry_on=5xx,503`)."""
    parts = value.split(",") if isinstance(value, str) else value
    conditions = [str(p) for p in parts] if isinstance(parts, list | tuple) else []
    if not conditions or any(c not in RETRY_ON and c not in HTTP_CODES for c in conditions):
        raise ParameterError(
            "retry_on",
            value,
            "comma-separated HTTP status codes and Envoy retry conditions: " + ", ".join(RETRY_ON),
        )
    return ",".join(conditions)


def circuit_breaker(
    namespace: str = "default",
    *,
    host: str = "httpbin",
    max_connections: int = 1,
    max_pending: int = 1,
    max_requests_per_connection: int = 1,
    consecutive_5xx: int = 1,
    interval: str = "1s",
    base_ejection_time: str = "3m",
    max_ejection_percent: int = 100,
) -> list[dict]:
    """The circuit-breaking task's DestinationRule: connection-pool limits plus outlier
    detection (defaults: 1 connection, 1 pending request, 1 request per connection;
    eject after 1 consecutive 5xx, every 1s, for 3m, up to 100 %)."""
    check_name("host", host)
    policy = {
        "connectionPool": {
            "tcp": {"maxConnections": check_int("max_connections", max_connections, minimum=1)},
            "http": {
                "http1MaxPendingRequests": check_int("max_pending", max_pending, minimum=1),
                "maxRequestsPerConnection": check_int(
                    "max_requests_per_connection", max_requests_per_connection, minimum=1
                ),
            },
        },
        "outlierDetection": {
            "consecutive5xxErrors": check_int("consecutive_5xx", consecutive_5xx, minimum=0),
            "interval": check_duration("interval", interval),
            "baseEjectionTime": check_duration("base_ejection_time", base_ejection_time),
            "maxEjectionPercent": check_int(
                "max_ejection_percent", max_ejection_percent, minimum=0, maximum=100
            ),
        },
    }
    return [destination_rule(host, namespace, subsets=(), traffic_policy=policy)]


def service_entry(
    namespace: str = "default",
    *,
    name: str = "external",
    hosts: Iterable[str] = ("httpbin.org",),
    port: int = 80,
    protocol: str = "HTTP",
    resolution: str = "DNS",
) -> list[dict]:
    """A ServiceEntry registering external `hosts` (location MESH_EXTERNAL)."""
    check_name("name", name)
    host_list = check_hosts("hosts", hosts)
    if "*" in host_list:
        raise ParameterError("hosts", tuple(host_list), "concrete host names (not '*')")
    protocol = check_choice("protocol", protocol, ("HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP"))
    port_spec = {
        "number": check_int("port", port, minimum=1, maximum=65535),
        "name": f"{protocol.lower()}-{port}",
        "protocol": protocol,
    }
    spec = {
        "hosts": host_list,
        "ports": [port_spec],
        "resolution": check_choice("resolution", resolution, ("DNS", "STATIC", "NONE")),
        "location": "MESH_EXTERNAL",
    }
    return [obj(NETWORKING, "ServiceEntry", name, namespace, spec=spec)]


def mirror(
    namespace: str = "default",
    *,
    host: str = "httpbin",
    subset: str = "v1",
    mirror_subset: str = "v2",
    percent: float = 100,
) -> list[dict]:
    """The mirroring task: all traffic to `host` `subset`, a copy of `percent` % of it to
    `mirror_subset`; includes the DestinationRule with both subsets."""
    check_name("host", host)
    subset = _subset("subset", host, subset)
    mirror_subset = _subset("mirror_subset", host, mirror_subset)
    if subset == mirror_subset:
        raise ParameterError("mirror_subset", mirror_subset, f"a subset other than {subset!r}")
    http = [
        {
            "route": [{"destination": _dest(host, subset), "weight": 100}],
            "mirror": _dest(host, mirror_subset),
            "mirrorPercentage": {"value": check_percent("percent", percent)},
        }
    ]
    return [
        _virtual_service(host, namespace, http),
        destination_rule(host, namespace, subsets=sorted({subset, mirror_subset})),
    ]


PRESETS: dict[str, _presets.Preset] = {
    "all-v1": all_v1,
    "user-route": user_route,
    "weighted": weighted,
    "header-route": header_route,
    "fault-delay": fault_delay,
    "fault-abort": fault_abort,
    "timeout": timeout,
    "retries": retries,
    "circuit-breaker": circuit_breaker,
    "service-entry": service_entry,
    "mirror": mirror,
}
TRAFFIC_PRESETS: tuple[str, ...] = tuple(PRESETS)


def traffic_preset(name: str, *, namespace: str = "default", **params: Any) -> list[dict]:
    """Build the traffic preset `name` (one of TRAFFIC_PRESETS) with its `params`."""
    return _presets.run("traffic", PRESETS, name, namespace, params)
