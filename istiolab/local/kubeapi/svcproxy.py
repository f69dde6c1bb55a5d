"""The ``services/{name}/proxy`` subresource: the API server's HTTP proxy to a Service.

``kubectl get --raw /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`` and any client
that holds only an API server (the cluster backend reading the Prometheus addon) reach an
in-cluster HTTP service this way. ``NAME`` is ``[http:]service[:port]``, the port by number
or name (the Service's first port when omitted).

Where the request goes, as the API server sends it: a Service the mesh runs itself (the
Prometheus addon, ``istio-system/prometheus:9090``) to its address; any other Service to
the pod IP of the first ready pod its selector picks, at the target port. Behind a sidecar
that is the sidecar's inbound listener, so, as on a cluster, the API server's plaintext
request is refused by a STRICT PeerAuthentication. Method, path, query and body pass
through; hop-by-hop headers and the API server's own credentials do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from istiolab.local.kubeapi.status import ApiError, bad_request
from istiolab.local.translate.common import labels_match

Address = tuple[str, int]
PREFIX = "/proxy"
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=5)
# RFC 9110 hop-by-hop headers, plus what the API server consumes itself
DROPPED = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def parse_target(name: str) -> tuple[str, str]:
    """``[scheme:]service[:port]`` -> (service, port); only plain HTTP is served."""
    parts = name.split(":")
    if len(parts) > 3:
        raise bad_request(f"invalid service proxy name {name!r}: use [http:]NAME[:PORT]")
    scheme = parts[0] if len(parts) == 3 else ""
    service = parts[1] if len(parts) == 3 else parts[0]
    port = parts[-1] if len(parts) > 1 else ""
    if scheme not in ("", "http"):
        raise bad_request(
            f"scheme {scheme!r} in {name!r} is not served: the local mesh's services "
            "speak plain HTTP (use http: or no scheme)"
        )
    return service, port


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _target_port(pod: Mapping[str, Any], target: int | str) -> int | None:
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for p in container.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def endpoint(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]], port: str) -> Address:
    """The pod IP and target port the API server would proxy `service` (port `port`) to."""
    name = service["metadata"]["name"]
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    chosen = (
        next((p for p in ports if port in (str(p.get("port")), p.get("name"))), None)
        if port
        else (ports[0] if ports else None)
    )
    if chosen is None:
        raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    target = chosen.get("targetPort", chosen["port"])
    selector = spec.get("selector") or {}
    namespace = service["metadata"].get("namespace", "default")
    for pod in pods:
        md = pod.get("metadata") or {}
        if md.get("namespace") != namespace or not selector:
            continue
        if not labels_match(selector, md.get("labels") or {}) or not _ready(pod):
            continue
        number = _target_port(pod, target)
        ip = (pod.get("status") or {}).get("podIP")
        if number is not None and ip:
            return ip, number
    raise ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')


async def forward(request: web.Request, address: Address, path: str) -> web.Response:
    """`request` (method, `path`, query, body, end-to-end headers) to `address`."""
    host, port = address
    query = request.rel_url.raw_query_string
    url = URL(f"http://{host}:{port}{path or '/'}{'?' + query if query else ''}", encoded=True)
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
    body = await request.read()
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as session,
            session.request(
                request.method, url, headers=headers, data=body or None, allow_redirects=False
            ) as resp,
        ):
            data = await resp.read()
            out = {k: v for k, v in resp.headers.items() if k.lower() not in DROPPED}
            return web.Response(status=resp.status, body=data, headers=out)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        reason = str(exc) or type(exc).__name__
        raise ApiError(
            503, "ServiceUnavailable", f"error trying to reach service: {reason}"
        ) from None


def tail_path(raw_path: str, name: str) -> str:
    """The path after ``/services/<name>/proxy`` (still encoded), ``/`` when there is none."""
    tail = raw_path.partition(f"/services/{name}{PREFIX}")[2]
    return tail if tail.startswith("/") else "/" + tail


def handler(
    owned: Callable[[], Mapping[tuple[str, str], Address]],
) -> Callable[..., Any]:
    """The subresource's handler; `owned` gives the (namespace, service) -> address of the
    Services the mesh runs itself, read at each request (an addon may start later)."""

    async def proxy(
        request: web.Request, service: Mapping[str, Any], pods: list[Mapping[str, Any]], name: str
    ) -> web.Response:
        _, port = parse_target(name)
        md = service["metadata"]
        address = owned().get((md.get("namespace", "default"), md["name"]))
        if address is None:
            address = endpoint(service, pods, port)
        return await forward(request, address, tail_path(request.rel_url.raw_path, name))

    return proxy
