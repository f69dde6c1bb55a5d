"""The in-pod HTTP client: what `curl` or an app's HTTP library does inside a pod.

- The source address is the pod IP (``source_ip``), as on a cluster.
- With a sidecar (``proxy="http://<pod ip>:15001"``) every request is sent in absolute form
  (``GET http://details:9080/details/0``, ``Host: details:9080``) to the sidecar's outbound
  listener, which routes on the authority. Without one, names are resolved with a hosts map
  (``{"details.default.svc.cluster.local": "127.10.1.3"}``; keys may carry a port
  ``"name:port"``; values may carry a port ``"ip:port"`` or be a list of such, one picked
  at random per connection as kube-proxy does) and the Kubernetes DNS search path
  (``<name>.<namespace>.svc.cluster.local``, ``<name>.svc.cluster.local``, ...). A name
  listed with no endpoints (``[]``) or only for other ports is a refused connection.
- ``localhost`` is the pod itself and never goes through the sidecar: the sidecar's ports
  (15000, 15021, 15090...) are on the pod IP (the proxy's host), the app's ports on
  ``source_ip`` (the pod-local address the app listens on).
- Failures are reported like curl: `Response.exit_code` is 56 for a connection reset,
  7 for a refused connection, 28 for a timeout, 52 for an empty reply, 6 for an unknown host.

`send` is one request on a fresh connection (curl); `Session` keeps connections alive
(an app's HTTP library); `load` is fortio's load generator (`istiolab.workloads.loadgen`).
"""

from __future__ import annotations

import http.client
import json
import random
import select
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CLUSTER_DOMAIN = "cluster.local"
DEFAULT_TIMEOUT = 30.0
CURL_USER_AGENT = "curl/8.16.0"
CURL_FORM_TYPE = "application/x-www-form-urlencoded"  # curl -d's Content-Type

SIDECAR_PORTS = frozenset({15000, 15001, 15006, 15020, 15021, 15090})
LOCALHOST = frozenset({"localhost", "127.0.0.1", "localhost.localdomain"})


HostsMap = Mapping[str, "str | Sequence[str]"]

# curl's exit codes for the failures a mesh produces
EXIT_CODES = {
    None: 0,
    "resolve": 6,
    "refused": 7,
    "connect": 7,
    "timeout": 28,
    "empty": 52,
    "reset": 56,
    "protocol": 8,
    "url": 3,
    "ssl": 35,  # SSL connect error (handshake failed, e.g. no certificate for the SNI)
}


@dataclass
class Response:
    """One exchange. ``status`` is 0 when no HTTP response arrived (see ``error``)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    elapsed: float = 0.0
    error: str | None = None  # reset | refused | connect | timeout | empty | resolve | ...
    detail: str = ""  # the underlying message, e.g. "Connection reset by peer"
    header_items: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 400

    @property
    def exit_code(self) -> int:
        """What `curl -s` would exit with (HTTP errors are 0, as without ``--fail``)."""
        return EXIT_CODES.get(self.error, 1)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> object:
        return json.loads(self.body)

    def describe(self) -> str:
        """curl's message for a failure, e.g. ``Recv failure: Connection reset by peer``."""
        return describe_error(self.error, self.detail)


def describe_error(error: str | None, detail: str = "") -> str:
    """curl's message for a failure kind (a key of EXIT_CODES), else `detail`."""
    return {
        "reset": "Recv failure: Connection reset by peer",
        "refused": "Failed to connect: Connection refused",
        "timeout": "Operation timed out",
        "empty": "Empty reply from server",
        "resolve": "Could not resolve host",
    }.get(error or "", detail)


class ResolveError(Exception):
    pass


def parse_proxy(proxy: str | None) -> tuple[str, int] | None:
    """``http://127.10.1.2:15001`` -> (host, port); None or '' -> None."""
    if not proxy:
        return None
    split = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return split.hostname or "127.0.0.1", split.port or 80


def _is_ip(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return host.count(".") == 3


def resolve(host: str, port: int, hosts: HostsMap | None, namespace: str = "") -> tuple[str, int]:
    """The address to connect to for ``host:port`` without a sidecar (kube DNS + kube-proxy)."""
    if _is_ip(host):
        return host, port
    hosts = hosts or {}
    name = host.lower().rstrip(".")
    candidates = [name]
    if name.count(".") < 4:  # ndots:5 search path of a pod's resolv.conf
        if namespace:
            candidates.append(f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}")
        candidates += [f"{name}.svc.{CLUSTER_DOMAIN}", f"{name}.{CLUSTER_DOMAIN}"]
    for candidate in candidates:
        for key in (f"{candidate}:{port}", candidate):
            value = hosts.get(key)
            if value is None:
                continue
            if not value:  # a Service without ready endpoints: nothing behind its ClusterIP
                raise ConnectionRefusedError(f"no endpoints behind {candidate}:{port}")
            choice = value if isinstance(value, str) else random.choice(list(value))
            ip, sep, mapped = choice.partition(":")
            return ip, int(mapped) if sep else port
        if any(k.startswith(f"{candidate}:") for k in hosts):
            raise ConnectionRefusedError(f"{candidate} does not serve port {port}")
    if name in LOCALHOST:
        return "127.0.0.1", port
    raise ResolveError(f"Could not resolve host: {host}")


def local_address(port: int, source_ip: str | None, proxy: str | None) -> str | None:
    """Where ``localhost:<port>`` is inside the pod: the sidecar's ports are on the pod IP
    (the proxy's host), the app's on the pod-local address (``source_ip``)."""
    via = parse_proxy(proxy)
    if port in SIDECAR_PORTS and via is not None:
        return via[0]
    return source_ip or (via[0] if via else None)


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes: the connect address and the request line's target."""

    connect: tuple[str, int]
    request_target: str  # absolute-form through a proxy, origin-form otherwise
    host_header: str


def target_for(
    url: str,
    proxy: str | None,
    hosts: HostsMap | None,
    namespace: str = "",
    source_ip: str | None = None,
) -> Target:
    split = urlsplit(url if "://" in url else f"http://{url}")
    if split.scheme != "http":
        raise ValueError(f"{url}: only http:// URLs are supported (TLS is the sidecar's job)")
    host = split.hostname or ""
    port = split.port or 80
    if not host:
        raise ValueError(f"{url}: no host")
    host_header = host if port == 80 else f"{host}:{port}"
    path = split.path or "/"
    if split.query:
        path += "?" + split.query
    if host.lower() in LOCALHOST:  # loopback traffic is never captured by the sidecar
        local = local_address(port, source_ip, proxy)
        if local:
            return Target((local, port), path, host_header)
    via = parse_proxy(proxy)
    if via is not None:
        return Target(via, f"http://{host_header}{path}", host_header)
    return Target(resolve(host, port, hosts, namespace), path, host_header)


def classify(exc: BaseException) -> tuple[str, str]:
    """(error kind, message) for a socket/HTTP failure."""
    if isinstance(exc, ResolveError):
        return "resolve", str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "refused", str(exc)
    if isinstance(exc, http.client.RemoteDisconnected):
        return "empty", str(exc)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset", str(exc)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", str(exc) or "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "reset", f"incomplete body: {exc!r}"
    if isinstance(exc, http.client.HTTPException):
        return "protocol", repr(exc)
    if isinstance(exc, ValueError):
        return "url", str(exc)
    return "connect", str(exc)


class Conn(http.client.HTTPConnection):
    """HTTPConnection with TCP_NODELAY and the pod IP as source address."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def open_conn(connect: tuple[str, int], source_ip: str | None, timeout: float) -> Conn:
    """A connection to `connect` from the pod's address `source_ip` (not yet opened)."""
    return Conn(
        connect[0],
        connect[1],
        timeout=timeout,
        source_address=(source_ip, 0) if source_ip else None,
    )


def exchange(
    conn: Conn,
    method: str,
    target: Target,
    headers: Mapping[str, str] | None,
    data: bytes | None,
    user_agent: str = CURL_USER_AGENT,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One request on `conn` as curl (or fortio, by `user_agent`) sends it; `headers`
    replace the defaults case-insensitively. Returns the response and its body."""
    out = {"Host": target.host_header, "User-Agent": user_agent, "Accept": "*/*"}
    for name, value in (headers or {}).items():
        for existing in [k for k in out if k.lower() == name.lower()]:
            del out[existing]
        out[name] = value
    conn.request(method, target.request_target, body=data, headers=out)
    resp = conn.getresponse()
    return resp, resp.read()


def _to_response(resp: http.client.HTTPResponse, body: bytes, elapsed: float) -> Response:
    items = list(resp.getheaders())
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return Response(resp.status, merged, body, elapsed, header_items=items)


def encode_body(data: bytes | str | None) -> bytes | None:
    """A request body as bytes (text as UTF-8)."""
    return data.encode() if isinstance(data, str) else data


def send(
    url: str,
    *,
    source_ip: str | None = None,
    proxy: str | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: bytes | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    hosts: HostsMap | None = None,
    namespace: str = "",
) -> Response:
    """One request on a fresh connection, like ``curl`` from inside the pod. Never raises.

    As ``curl -d``, a body without a Content-Type header is sent as a form
    (``application/x-www-form-urlencoded``)."""
    start = time.perf_counter()
    conn = None
    if data is not None and not any(k.lower() == "content-type" for k in headers or {}):
        headers = {**(headers or {}), "Content-Type": CURL_FORM_TYPE}
    try:
        target = target_for(url, proxy, hosts, namespace, source_ip)
        conn = open_conn(target.connect, source_ip, timeout)
        resp, body = exchange(conn, method.upper(), target, headers, encode_body(data))
        return _to_response(resp, body, time.perf_counter() - start)
    except (OSError, http.client.HTTPException, ResolveError, ValueError) as exc:
        kind, detail = classify(exc)
        return Response(0, elapsed=time.perf_counter() - start, error=kind, detail=detail)
    finally:
        if conn is not None:
            conn.close()


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive socket is readable only when the peer closed (or broke) it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


class Session:
    """Keep-alive connections for an app's outbound calls (thread-safe).

    Like a pooled HTTP library: idle connections are reused; one found closed by the peer
    is dropped before use; a request that fails on a reused connection before any response
    byte arrived is retried once on a new connection.
    """

    def __init__(
        self,
        *,
        source_ip: str | None = None,
        proxy: str | None = None,
        hosts: HostsMap | None = None,
        namespace: str = "",
        max_idle: int = 32,
    ) -> None:
        self.source_ip, self.proxy, self.hosts, self.namespace = source_ip, proxy, hosts, namespace
        self._idle: dict[tuple[str, int], list[Conn]] = {}
        self._lock = threading.Lock()
        self._max_idle = max_idle
        self.user_agent = "python-requests/2.32.3"

    def _take(self, key: tuple[str, int]) -> Conn | None:
        with self._lock:
            pool = self._idle.get(key) or []
            while pool:
                conn = pool.pop()
                if conn.sock is not None and not _readable(conn.sock):
                    return conn
                conn.close()  # readable while idle: closed by the peer
        return None

    def _give(self, key: tuple[str, int], conn: Conn) -> None:
        with self._lock:
            pool = self._idle.setdefault(key, [])
            if len(pool) < self._max_idle:
                pool.append(conn)
                return
        conn.close()

    def request(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Response:
        start = time.perf_counter()
        try:
            target = target_for(url, self.proxy, self.hosts, self.namespace, self.source_ip)
        except (ResolveError, ValueError, OSError) as exc:
            kind, detail = classify(exc)
            return Response(0, elapsed=time.perf_counter() - start, error=kind, detail=detail)
        key = target.connect
        for attempt in (0, 1):
            conn = self._take(key) if attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = open_conn(key, self.source_ip, timeout)
            elif conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                resp, body = exchange(
                    conn, method.upper(), target, headers, encode_body(data), self.user_agent
                )
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                stale = isinstance(
                    exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                )
                if reused and stale:
                    continue
                kind, detail = classify(exc)
                return Response(0, elapsed=time.perf_counter() - start, error=kind, detail=detail)
            if resp.will_close:
                conn.close()
            else:
                self._give(key, conn)
            return _to_response(resp, body, time.perf_counter() - start)
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            for pool in self._idle.values():
                for conn in pool:
                    conn.close()
            self._idle.clear()


def __getattr__(name: str):  # load/format_fortio live in .loadgen; import lazily
    if name in {"load", "LoadResult", "format_fortio"}:
        from istiolab.workloads import loadgen

        return getattr(loadgen, name)
    raise AttributeError(name)
