"""What ``kubectl exec`` can run in a local-mesh pod: the commands the Istio docs use.

- ``curl`` (any app container): ``-s -S -v -I -i -o FILE -w FORMAT -H -X -d --data-raw
  --max-time/-m -L`` over the in-pod client of :mod:`istiolab.workloads.client` (from the
  pod IP, through its sidecar when it has one), with curl's exit codes (56 reset, 7
  refused, 28 timeout, 6 unknown host) and messages.
- ``fortio load`` / ``fortio curl`` (``/usr/bin/fortio`` too): fortio's load generator
  (:mod:`istiolab.workloads.loadgen`) and its output (``Code 503 : 19 (63.3 %)``).
- ``openssl s_client -connect <service>:<port>`` (the real ``openssl``, against the
  service's endpoint, as from an ``istio-proxy`` container whose traffic is not captured):
  prints the certificate chain the server's sidecar presents.
- ``pilot-agent request GET|POST <admin path>`` and ``curl localhost:15000/<path>`` in the
  ``istio-proxy`` container: the pod's Envoy admin API, read through the runtime's one
  admin function (:func:`istiolab.local.admin.admin_request`, over its owner-only socket).
- ``pilot-discovery request GET /debug/syncz`` in istiod's ``discovery`` container: the
  proxies' xDS state (:mod:`istiolab.local.kubeapi.istiod`).

Anything else exits 127 with one line naming what is supported.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from istiolab.errors import IstiolabError
from istiolab.local.kubeapi.workloads import PROXY_CONTAINER

SUPPORTED = (
    "curl [-s -S -v -I -i -o FILE -w FMT -H -X -d -m] URL, "
    "fortio load|curl [-c -qps -n -t -H -json -] URL, "
    "pilot-agent request GET|POST <admin path>, curl localhost:15000/<admin path>, "
    "pilot-discovery request GET /debug/syncz (istiod), "
    "openssl s_client -connect HOST:PORT [-showcerts -servername -alpn -brief]"
)
OPENSSL_FLAGS = {
    "-showcerts": False,
    "-brief": False,
    "-quiet": False,
    "-tls1_2": False,
    "-tls1_3": False,
    "-servername": True,
    "-alpn": True,
    "-connect": True,
}
ADMIN_PORT = 15000


@dataclass(frozen=True)
class PodContext:
    """The pod a command runs in and how it reaches the mesh."""

    name: str
    namespace: str
    ip: str
    app_ip: str
    sidecar: bool
    container: str
    hosts: Callable[[], dict]  # Service name -> endpoints (pods without a sidecar)
    admin: Callable[[str, str], tuple[int, str]]  # (method, path) -> (status, body)
    debug: Callable[[str], tuple[int, str]] | None = None  # istiod's debug API: path -> ...


@dataclass
class Result:
    stdout: bytes = b""
    stderr: bytes = b""
    code: int = 0
    out: list[bytes] = field(default_factory=list)

    def write(self, text: str | bytes) -> None:
        self.stdout += text.encode() if isinstance(text, str) else text

    def error(self, text: str, code: int) -> Result:
        self.stderr += (text.rstrip("\n") + "\n").encode()
        self.code = code
        return self


def run(ctx: PodContext, argv: list[str]) -> Result:
    """Run `argv` as if in `ctx`'s container; never raises."""
    if not argv:
        return Result().error("error: you must specify at least one command", 1)
    prog = argv[0].rsplit("/", 1)[-1]
    if prog in ("sh", "bash") and len(argv) == 3 and argv[1] == "-c":
        words = shlex.split(argv[2])
        if words and not any(w in ("|", ";", "&&", "||", ">") for w in words):
            return run(ctx, words)
    try:
        if prog == "curl":
            from istiolab.local.kubeapi.curl import curl

            return curl(ctx, argv[1:])
        if prog == "fortio" and len(argv) > 1 and argv[1] in ("load", "curl"):
            return fortio(ctx, argv[1], argv[2:])
        if prog == "pilot-agent" and argv[1:2] == ["request"]:
            return pilot_agent(ctx, argv[2:])
        if prog == "pilot-discovery" and argv[1:2] == ["request"] and ctx.debug is not None:
            return pilot_discovery(ctx.debug, argv[2:])
        if prog == "openssl" and argv[1:2] == ["s_client"]:
            return openssl(ctx, argv[2:])
    except (ValueError, IndexError) as exc:
        return Result().error(f"{prog}: {exc}", 2)
    except IstiolabError as exc:  # e.g. the pod's Envoy is not reachable
        return Result().error(f"{prog}: {exc}", 1)
    return Result().error(
        f'istiolab: "{argv[0]}" cannot run in pod {ctx.name} (local mesh); supported: {SUPPORTED}',
        127,
    )


def pilot_agent(ctx: PodContext, args: list[str]) -> Result:
    if len(args) < 2 or args[0].upper() not in ("GET", "POST"):
        raise ValueError("usage: pilot-agent request GET|POST <admin path>")
    if ctx.container != PROXY_CONTAINER:
        return Result().error(
            f"pilot-agent: not found in container {ctx.container} (use -c istio-proxy)", 127
        )
    status, body = ctx.admin(args[0].upper(), "/" + args[1].lstrip("/"))
    res = Result()
    res.write(body)
    if status >= 400:
        res.error(f"Error: {status} {body.strip()[:200]}", 1)
    return res


def pilot_discovery(debug: Callable[[str], tuple[int, str]], args: list[str]) -> Result:
    if len(args) < 2 or args[0].upper() != "GET":
        raise ValueError("usage: pilot-discovery request GET <debug path>")
    status, body = debug("/" + args[1].lstrip("/"))
    res = Result()
    res.write(body)
    if status >= 400:
        res.error(f"Error: {status} {body.strip()[:200]}", 1)
    return res


def reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def fortio(ctx: PodContext, verb: str, args: list[str]) -> Result:
    from istiolab.workloads import client
    from istiolab.workloads.fortio import go_duration_seconds
    from istiolab.workloads.fortiojson import to_json
    from istiolab.workloads.loadgen import format_fortio, load

    conns, qps, count, duration, url, json_to = 4, 8.0, 0, 0.0, "", None
    headers: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = args[i].lstrip("-") if args[i].startswith("-") else None
        if a is None:
            url = args[i]
        elif a in ("allow-initial-errors", "quiet", "a", "k", "h2", "stdclient"):
            pass
        else:
            value = args[i + 1]
            i += 1
            if a == "c":
                conns = int(value)
            elif a == "qps":
                qps = float(value)
            elif a == "n":
                count = int(value)
            elif a == "t":
                duration = go_duration_seconds(value)
            elif a == "H":
                k, _, v = value.partition(":")
                headers[k.strip()] = v.strip()
            elif a == "json":  # fortio's JSON result; "-": on stdout, the summary on stderr
                json_to = value
            elif a not in ("loglevel", "timeout", "p", "r", "labels"):
                raise ValueError(f"flag provided but not defined: -{a}")
        i += 1
    if not url:
        raise ValueError(f"fortio {verb}: a URL is required")
    common: dict[str, Any] = dict(
        source_ip=ctx.app_ip,
        proxy=f"http://{ctx.ip}:15001" if ctx.sidecar else None,
        hosts=None if ctx.sidecar else ctx.hosts(),
        namespace=ctx.namespace,
        headers=headers,
    )
    res = Result()
    if verb == "curl":
        resp = client.send(url, **common)
        if resp.error is not None:
            return res.error(f"fortio curl: {resp.describe()}", 1)
        res.write(f"HTTP/1.1 {resp.status} {reason(resp.status)}\r\n")
        res.write("".join(f"{k}: {v}\r\n" for k, v in resp.header_items) + "\r\n")
        res.write(resp.body)
        return res
    if count <= 0:
        count = max(1, int((duration or 5.0) * (qps if qps > 0 else 8.0)))
    result = load(url, count=count, concurrency=conns, qps=qps if qps > 0 else None, **common)
    if json_to == "-":
        res.write(json.dumps(to_json(result), indent=2) + "\n")
        res.stderr += (format_fortio(result) + "\n").encode()
    elif json_to is not None:
        return res.error(f"fortio load: -json {json_to}: only - (stdout) in a local-mesh pod", 2)
    else:
        res.write(format_fortio(result) + "\n")
    return res


def openssl(ctx: PodContext, args: list[str]) -> Result:
    """The real ``openssl s_client`` against a mesh service's endpoint (loopback only)."""
    import ipaddress
    import shutil
    import subprocess

    from istiolab.workloads import client

    argv, target, i = [], "", 0
    while i < len(args):
        flag = args[i]
        if flag not in OPENSSL_FLAGS:
            raise ValueError(f"s_client: option {flag} is not supported here ({SUPPORTED})")
        if OPENSSL_FLAGS[flag]:
            if i + 1 >= len(args):
                raise ValueError(f"s_client: option {flag} needs a value")
            if flag == "-connect":
                target = args[i + 1]
            else:
                argv += [flag, args[i + 1]]
            i += 2
        else:
            argv.append(flag)
            i += 1
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("s_client: -connect HOST:PORT is required")
    try:
        ip, real_port = client.resolve(host, int(port), ctx.hosts(), ctx.namespace)
    except client.ResolveError as exc:
        return Result().error(f"{host}:{port}: Name or service not known ({exc})", 1)
    if not ipaddress.ip_address(ip).is_loopback:
        return Result().error(f"s_client: {ip} is outside the local mesh", 1)
    binary = shutil.which("openssl")
    if binary is None:
        return Result().error(
            "openssl: not installed on this machine (apt-get install openssl)", 127
        )
    if "-servername" not in argv:
        argv += ["-servername", host]
    try:
        proc = subprocess.run(
            [binary, "s_client", "-connect", f"{ip}:{real_port}", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Result().error(f"s_client: {host}:{port}: no TLS handshake within 20 s", 1)
    return Result(proc.stdout, proc.stderr, proc.returncode)
