"""An HTTPS request to the ingress gateway as ``curl --resolve HOST:443:GW --cacert CA``
does it: connect to the gateway's address, send SNI `host`, verify the server certificate
against the lab's CA, send ``Host: host``. The lab checks of secure ingress use it."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from istiolab.backends import HttpResult


def gateway_https(
    base_url: str,
    path: str,
    *,
    host: str,
    cafile: Path,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpResult:
    """One HTTPS exchange; never raises for network or TLS failures (status 0, curl's error)."""
    split = urlsplit(base_url)
    began = time.monotonic()
    context = ssl.create_default_context(cafile=str(cafile))
    try:
        raw = socket.create_connection((split.hostname, split.port or 443), timeout=timeout)
    except OSError as exc:
        kind = "refused" if isinstance(exc, ConnectionRefusedError) else "connect"
        return HttpResult(0, elapsed=time.monotonic() - began, error=kind, detail=str(exc))
    try:
        sock = context.wrap_socket(raw, server_hostname=host)
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        raw.close()
        return HttpResult(0, elapsed=time.monotonic() - began, error="ssl", detail=str(exc))
    conn = http.client.HTTPConnection(host, timeout=timeout)
    conn.sock = sock
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        body = resp.read()
        return HttpResult(
            resp.status,
            headers={k.lower(): v for k, v in resp.getheaders()},
            body=body,
            elapsed=time.monotonic() - began,
        )
    except (OSError, http.client.HTTPException) as exc:
        return HttpResult(0, elapsed=time.monotonic() - began, error="reset", detail=str(exc))
    finally:
        conn.close()
