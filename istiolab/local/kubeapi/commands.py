"""What ``kubectl exec`` can run in a local-mesh pod: the commands the Istio docs use.

- ``curl`` (any app container): ``-s -S -v -I -i -o FILE -w FORMAT -H -X -d --data-raw
  --max-time/-m -L`` over the in-pod client of :mod:`istiolab.workloads.client` (from the
  pod IP, through its sidecar when it has one), with curl's exit codes (56 reset, 7
  refused, 28 timeout, 6 unknown host) and messages.
- ``fortio load`` / ``fortio curl`` (``/usr/bin/fortio`` too): fortio's load generator
  (:mod:`istiolab.workloads.loadgen`) and its output (``Code 503 : 19 (63.3 %)``).
- ``pilot-agent request GET|POST <admin path>`` and ``curl localhost:15000/<path>`` in the
  ``istio-proxy`` container: the pod's Envoy admin API, read through the runtime's one
  admin function (:func:`istiolab.local.envoy.admin_request`).

Anything else exits 127 with one line naming what is supported.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from istiolab.local.kubeapi.workloads import PROXY_CONTAINER

SUPPORTED = (
    "curl [-s -S -v -I -i -o FILE -w FMT -H -X -d -m] URL, "
    "fortio load|curl [-c -qps -n -t -H -json -] URL, "
    "pilot-agent request GET|POST <admin path>, curl localhost:15000/<admin path>"
)
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
            return curl(ctx, argv[1:])
        if prog == "fortio" and len(argv) > 1 and argv[1] in ("load", "curl"):
            return fortio(ctx, argv[1], argv[2:])
        if prog == "pilot-agent" and argv[1:2] == ["request"]:
            return pilot_agent(ctx, argv[2:])
    except (ValueError, IndexError) as exc:
        return Result().error(f"{prog}: {exc}", 2)
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


@dataclass
class CurlOptions:
    url: str = ""
    silent: bool = False
    show_error: bool = False
    verbose: bool = False
    head: bool = False
    include: bool = False
    output: str | None = None
    write_out: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None
    data: str | None = None
    timeout: float = 30.0


_CURL_VALUE = {"-o", "-w", "-H", "-X", "-d", "-m", "--output", "--write-out", "--header",
               "--request", "--data", "--data-raw", "--data-binary", "--max-time",
               "--connect-timeout", "--user-agent", "-A"}  # fmt: skip
_CURL_FLAGS = {"-s": "silent", "-S": "show_error", "-v": "verbose", "-I": "head", "-i": "include",
               "-L": None, "-f": None, "-k": None, "--silent": "silent",
               "--show-error": "show_error", "--verbose": "verbose", "--head": "head",
               "--include": "include", "--location": None, "--insecure": None}  # fmt: skip


def parse_curl(args: list[str]) -> CurlOptions:
    opts = CurlOptions()
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and not a.startswith("--") and len(a) > 2 and a[:2] not in _CURL_VALUE:
            expanded = [f"-{c}" for c in a[1:]]  # -sSI, -so/dev/null
            for j, flag in enumerate(expanded):
                if flag in _CURL_VALUE:
                    rest = a[j + 2 :]
                    args = (
                        args[:i] + expanded[:j] + [flag] + ([rest] if rest else []) + args[i + 1 :]
                    )
                    break
            else:
                args = args[:i] + expanded + args[i + 1 :]
            continue
        if a[:2] in _CURL_VALUE and len(a) > 2 and not a.startswith("--"):
            args = [*args[:i], a[:2], a[2:], *args[i + 1 :]]
            continue
        if a in _CURL_FLAGS:
            attr = _CURL_FLAGS[a]
            if attr:
                setattr(opts, attr, True)
        elif a in _CURL_VALUE:
            if i + 1 >= len(args):
                raise ValueError(f"option {a}: requires parameter")
            value = args[i + 1]
            i += 1
            if a in ("-o", "--output"):
                opts.output = value
            elif a in ("-w", "--write-out"):
                opts.write_out = value
            elif a in ("-H", "--header"):
                k, sep, v = value.partition(":")
                if not sep:
                    raise ValueError(f"option -H: bad header {value!r}")
                opts.headers[k.strip()] = v.strip()
            elif a in ("-X", "--request"):
                opts.method = value
            elif a in ("-d", "--data", "--data-raw", "--data-binary"):
                opts.data = value if opts.data is None else f"{opts.data}&{value}"
            elif a in ("-m", "--max-time", "--connect-timeout"):
                opts.timeout = float(value)
            elif a in ("-A", "--user-agent"):
                opts.headers["User-Agent"] = value
        elif a.startswith("-"):
            raise ValueError(f"option {a}: is unknown (supported: {SUPPORTED})")
        else:
            opts.url = a
        i += 1
    if not opts.url:
        raise ValueError("no URL specified")
    return opts


def _write_out(fmt: str, status: int, elapsed: float, size: int) -> str:
    values = {"http_code": f"{status:03d}", "response_code": f"{status:03d}",
              "time_total": f"{elapsed:.6f}", "size_download": str(size)}  # fmt: skip
    out = fmt.replace("\\n", "\n").replace("\\t", "\t")
    for k, v in values.items():
        out = out.replace(f"%{{{k}}}", v)
    return out


def curl(ctx: PodContext, args: list[str]) -> Result:
    from urllib.parse import urlsplit

    from istiolab.workloads import client

    opts = parse_curl(args)
    res = Result()
    split = urlsplit(opts.url if "://" in opts.url else f"http://{opts.url}")
    method = opts.method or ("HEAD" if opts.head else "POST" if opts.data is not None else "GET")
    if split.scheme != "http":
        return res.error(
            f'curl: (1) Protocol "{split.scheme}" is not supported in local-mesh pods '
            "(TLS is the sidecar's job: use http:// and a DestinationRule)",
            1,
        )
    local = (split.hostname or "") in client.LOCALHOST
    if local and split.port == ADMIN_PORT:
        status, body = ctx.admin(
            method, (split.path or "/") + (f"?{split.query}" if split.query else "")
        )
        resp = client.Response(status, {}, body.encode())
    else:
        resp = client.send(
            opts.url,
            source_ip=ctx.app_ip,
            proxy=f"http://{ctx.ip}:15001" if ctx.sidecar else None,
            hosts=None if ctx.sidecar else ctx.hosts(),
            namespace=ctx.namespace,
            method=method,
            headers=opts.headers,
            data=opts.data,
            timeout=opts.timeout,
        )
    if opts.verbose:
        path = (split.path or "/") + (f"?{split.query}" if split.query else "")
        lines = [f"> {method} {path} HTTP/1.1", f"> Host: {split.netloc}",
                 f"> User-Agent: {client.CURL_USER_AGENT}", "> Accept: */*"]  # fmt: skip
        lines += [f"> {k}: {v}" for k, v in opts.headers.items()] + [">"]
        if resp.error is None:
            lines.append(f"< HTTP/1.1 {resp.status} {_reason(resp.status)}")
            lines += [f"< {k}: {v}" for k, v in resp.header_items] + ["<"]
        res.stderr += ("\n".join(lines) + "\n").encode()
    if resp.error is not None:
        if not opts.silent or opts.show_error:
            res.stderr += f"curl: ({resp.exit_code}) {resp.describe()}\n".encode()
        res.code = resp.exit_code
        if opts.write_out:
            res.write(_write_out(opts.write_out, 0, resp.elapsed, 0))
        return res
    head = f"HTTP/1.1 {resp.status} {_reason(resp.status)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in resp.header_items) + "\r\n"
    body = b"" if method == "HEAD" else resp.body
    shown = (head.encode() if opts.head or opts.include else b"") + body
    if opts.output is None or opts.output == "-":
        res.write(shown)
    if opts.write_out:
        res.write(_write_out(opts.write_out, resp.status, resp.elapsed, len(body)))
    return res


def _reason(status: int) -> str:
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
        res.write(f"HTTP/1.1 {resp.status} {_reason(resp.status)}\r\n")
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
