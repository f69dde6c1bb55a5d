"""fortio's server side: the echo server on 8080 with its query options, and /debug.

Any path echoes the request body (200) and honours fortio's echo options:
``?status=503`` or ``?status=503:20,429:10`` (percentages), ``?delay=250ms`` or
``?delay=1s:10`` (capped at 1.5 s as fortio's default), ``?size=1024``,
``?header=Name:Value``, ``?close=true``. ``/debug`` prints the request back as text;
``/fortio/`` is a minimal UI page. The load client is `istiolab.workloads.loadgen`.
"""

from __future__ import annotations

import random
import re
import socket
import time

from istiolab.durations import seconds
from istiolab.workloads.context import PodContext
from istiolab.workloads.images import FORTIO_VERSION
from istiolab.workloads.server import App, Request, Response, reason

MAX_ECHO_DELAY = 1.5


def go_duration_seconds(text: str) -> float:
    """Parse a Go duration (``250ms``, ``1.5s``, ``1m30s``); a bare number is seconds."""
    text = text.strip()
    if re.fullmatch(r"[0-9.]+", text):
        return float(text)
    try:
        return seconds(text)
    except ValueError:
        raise ValueError(f"invalid duration {text!r}") from None


def _pick(spec: str, parse) -> object | None:
    """fortio's ``value:percent,value:percent`` choice; a bare value always applies."""
    roll = random.uniform(0, 100)
    total = 0.0
    for part in spec.split(","):
        value, sep, percent = part.partition(":")
        if not sep:
            return parse(value)
        total += float(percent)
        if roll < total:
            return parse(value)
    return None


def fortio_app(ctx: PodContext) -> App:
    started = time.time()
    hostname = ctx.pod_name or socket.gethostname()

    def debug(request: Request) -> Response:
        uptime = time.time() - started
        lines = [
            f"Φορτίο version {FORTIO_VERSION} echo debug server up for {uptime:.1f}s on "
            f"{hostname} - request from {request.client[0]}:{request.client[1]}",
            "",
            f"{request.method} {request.target} {request.http_version}",
            "",
            "headers:",
            "",
            *(f"{name}: {value}" for name, value in request.header_items),
            "",
            "body:",
            "",
            request.body.decode("utf-8", "replace"),
        ]
        return Response.text("\n".join(lines) + "\n")

    def app(request: Request) -> Response:
        if request.path.startswith("/debug"):
            return debug(request)
        if request.path.rstrip("/") == "/fortio":
            return Response.html(
                f"<!DOCTYPE html><html><head><title>Φορτίο</title></head><body>"
                f"<h1>Φορτίο (fortio) {FORTIO_VERSION}</h1><p>echo server on {hostname}; "
                "run loads with <code>istiolab request --from fortio --count N</code>.</p>"
                "</body></html>"
            )
        try:
            status = _pick(request.arg("status"), int) if request.arg("status") else None
            delay = _pick(request.arg("delay"), go_duration_seconds) if request.arg("delay") else 0
        except ValueError as exc:
            return Response.text(f"bad echo option: {exc}\n", 400)
        if delay:
            time.sleep(min(float(delay), MAX_ECHO_DELAY))  # type: ignore[arg-type]
        code = int(status) if status else 200  # type: ignore[call-overload]
        body = request.body
        size = request.arg("size")
        if size.isdigit():
            body = ("Φορτίο".encode() * (int(size) // 10 + 1))[: int(size)]
        headers = []
        for spec in request.query.get("header", []):
            name, sep, value = spec.partition(":")
            if sep and name:
                headers.append((name, value))
        if request.arg("close").lower() in ("true", "1", "on"):
            headers.append(("Connection", "close"))
        ctype = request.headers.get("content-type") or "application/octet-stream"
        if code >= 300 and not body:
            body = f"{code} {reason(code)}\n".encode()
        return Response(code, body, ctype, headers)

    return app
