"""TCP and HTTPS from inside a pod: what ``nc`` and ``curl https://`` do there.

With a sidecar, the app reaches a TCP or TLS port through it as through an HTTPS proxy: an
HTTP ``CONNECT host:port`` to the outbound listener (15001), then the raw bytes (the
sidecar picks the cluster from its CONNECT routes: VirtualService ``tcp``/``tls`` routes,
PassthroughCluster for unknown hosts under ALLOW_ANY). Without one, the name is resolved
as kube DNS would (:func:`istiolab.workloads.client.resolve`).

- :func:`tcp_send` (``tcp://host:port``): send one line, return the reply line (``nc``).
- :func:`https_send` (``https://...``): TLS originated by the client (SNI = the URL's host),
  ``insecure`` (curl ``-k``), ``cacert`` (curl ``--cacert``), ``resolve`` (curl
  ``--resolve host:port:addr``: connect to addr without a proxy). A refused CONNECT or a
  failed handshake is curl's exit 35 (``SSL connect error``), an unverifiable certificate 60.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from istiolab.workloads.client import (
    CURL_USER_AGENT,
    DEFAULT_TIMEOUT,
    HostsMap,
    ResolveError,
    Response,
    classify,
    parse_proxy,
    resolve,
)

EXIT_TLS, EXIT_CERT = 35, 60


class TunnelError(OSError):
    """The sidecar refused the CONNECT (no route: REGISTRY_ONLY, or no such port)."""


def open_stream(
    host: str,
    port: int,
    *,
    source_ip: str | None,
    proxy: str | None,
    hosts: HostsMap | None,
    namespace: str,
    timeout: float,
    address: str | None = None,
) -> socket.socket:
    """A connected socket carrying bytes to ``host:port`` (through the sidecar's CONNECT,
    or directly to the resolved address). ``address`` (curl ``--resolve``) replaces the
    name: the connection goes there, through the sidecar when the pod has one."""
    via = parse_proxy(proxy)
    source = (source_ip, 0) if source_ip else None
    if via is None:
        target = (address, port) if address else resolve(host, port, hosts, namespace)
        return socket.create_connection(target, timeout=timeout, source_address=source)
    sock = socket.create_connection(via, timeout=timeout, source_address=source)
    authority = f"{address or host}:{port}"
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            raise TunnelError(f"CONNECT {authority}: the proxy closed the connection")
        head += chunk
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split()
    if len(parts) < 2 or parts[1] != "200":
        sock.close()
        raise TunnelError(f"CONNECT {authority}: {status_line}")
    return sock


def tcp_send(
    url: str,
    line: str,
    *,
    source_ip: str | None = None,
    proxy: str | None = None,
    hosts: HostsMap | None = None,
    namespace: str = "",
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[str, str | None]:
    """(reply, error) of sending ``line`` to ``tcp://host:port`` and reading one line back
    (error: a curl-style kind, ``reset``/``refused``/``timeout``/..., or None)."""
    split = urlsplit(url)
    if split.scheme != "tcp" or not split.hostname or not split.port:
        return "", "url"
    try:
        sock = open_stream(
            split.hostname,
            split.port,
            source_ip=source_ip,
            proxy=proxy,
            hosts=hosts,
            namespace=namespace,
            timeout=timeout,
        )
    except (OSError, ResolveError) as exc:
        return "", "refused" if isinstance(exc, TunnelError) else classify(exc)[0]
    try:
        sock.sendall(line.rstrip("\n").encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        if not data:
            return "", "empty"
        return data.decode(errors="replace").rstrip("\n"), None
    except OSError as exc:
        return "", classify(exc)[0]
    finally:
        sock.close()


def https_send(
    url: str,
    *,
    source_ip: str | None = None,
    proxy: str | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    hosts: HostsMap | None = None,
    namespace: str = "",
    insecure: bool = False,
    cacert: str | None = None,
    resolve_to: Mapping[str, str] | None = None,
) -> tuple[Response, int]:
    """(response, curl exit code) of one HTTPS request originated in the pod."""
    import http.client
    import ssl

    start = time.perf_counter()
    split = urlsplit(url)
    host, port = split.hostname or "", split.port or 443
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    address = (resolve_to or {}).get(f"{host}:{port}")

    def failed(kind: str, detail: str, code: int) -> tuple[Response, int]:
        return Response(0, elapsed=time.perf_counter() - start, error=kind, detail=detail), code

    try:
        raw = open_stream(
            host,
            port,
            source_ip=source_ip,
            proxy=proxy,
            hosts=hosts,
            namespace=namespace,
            timeout=timeout,
            address=address,
        )
    except TunnelError as exc:
        return failed(
            "tls",
            f"OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to {host}:{port} ({exc})",
            EXIT_TLS,
        )
    except (OSError, ResolveError) as exc:
        kind, detail = classify(exc)
        return failed(kind, detail, Response(0, error=kind).exit_code)
    context = ssl.create_default_context(cafile=cacert) if cacert else ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        sock = context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raw.close()
        return failed("cert", f"SSL certificate problem: {exc.verify_message}", EXIT_CERT)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        return failed("tls", f"OpenSSL SSL_connect: {exc}", EXIT_TLS)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = sock
    try:
        out = {"Host": host if port == 443 else f"{host}:{port}", "User-Agent": CURL_USER_AGENT}
        out["Accept"] = "*/*"
        out.update(headers or {})
        conn.request(method, path, body=data, headers=out)
        resp = conn.getresponse()
        body = resp.read()
        items = list(resp.getheaders())
        merged = {k.lower(): v for k, v in items}
        response = Response(
            resp.status, merged, body, time.perf_counter() - start, header_items=items
        )
        return response, 0
    except (OSError, http.client.HTTPException) as exc:
        kind, detail = classify(exc)
        return failed(kind, detail, Response(0, error=kind).exit_code)
    finally:
        conn.close()
