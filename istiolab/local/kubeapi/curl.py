"""``curl`` in a local-mesh pod: the flags the Istio docs use, curl's output and exit codes.

``-s -S -v -I -i -o FILE -w FORMAT -H -X -d/--data-raw -m -A -L -k --resolve HOST:PORT:ADDR
--cacert FILE``. ``http://`` goes through the in-pod client of
:mod:`istiolab.workloads.client` (from the pod IP, through its sidecar when it has one);
``https://`` is a direct TLS connection from the pod to the name's endpoint (``--resolve``
wins), verified against ``--cacert`` unless ``-k`` (curl's exit 60 for an unverified
certificate, 35 for a failed handshake). ``localhost:15000`` is the pod's Envoy admin, read
through the runtime's one admin function. Exit codes and messages are curl's (56 reset,
7 refused, 28 timeout, 6 unknown host).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from istiolab.local.kubeapi.commands import ADMIN_PORT, SUPPORTED, PodContext, Result, reason


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
    insecure: bool = False
    cacert: str | None = None
    resolve: dict[tuple[str, int], str] = field(default_factory=dict)


_CURL_VALUE = {"-o", "-w", "-H", "-X", "-d", "-m", "--output", "--write-out", "--header",
               "--request", "--data", "--data-raw", "--data-binary", "--max-time",
               "--connect-timeout", "--user-agent", "-A", "--resolve", "--cacert"}  # fmt: skip
_CURL_FLAGS = {"-s": "silent", "-S": "show_error", "-v": "verbose", "-I": "head", "-i": "include",
               "-L": None, "-f": None, "-k": "insecure", "--silent": "silent",
               "--show-error": "show_error", "--verbose": "verbose", "--head": "head",
               "--include": "include", "--location": None, "--insecure": "insecure"}  # fmt: skip


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
            elif a == "--cacert":
                opts.cacert = value
            elif a == "--resolve":
                host, port, address = [*value.split(":", 2), "", ""][:3]
                if not host or not port.isdigit() or not address:
                    raise ValueError(f"option --resolve: {value!r} is not HOST:PORT:ADDRESS")
                opts.resolve[(host, int(port))] = address.strip("[]")
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
    if split.scheme not in ("http", "https"):
        return res.error(f'curl: (1) Protocol "{split.scheme}" not supported', 1)
    host, port = split.hostname or "", split.port or (443 if split.scheme == "https" else 80)
    hosts = None if ctx.sidecar else ctx.hosts()
    if opts.resolve and not ctx.sidecar:
        hosts = {**(hosts or {}), **{f"{h}:{p}": f"{a}:{p}" for (h, p), a in opts.resolve.items()}}
    exit_code = None
    if split.scheme == "https":
        resp, exit_code = _https(ctx, opts, split, method)
    elif host in client.LOCALHOST and port == ADMIN_PORT:
        status, body = ctx.admin(
            method, (split.path or "/") + (f"?{split.query}" if split.query else "")
        )
        resp = client.Response(status, {}, body.encode())
    else:
        resp = client.send(
            opts.url,
            source_ip=ctx.app_ip,
            proxy=f"http://{ctx.ip}:15001" if ctx.sidecar else None,
            hosts=hosts,
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
            lines.append(f"< HTTP/1.1 {resp.status} {reason(resp.status)}")
            lines += [f"< {k}: {v}" for k, v in resp.header_items] + ["<"]
        res.stderr += ("\n".join(lines) + "\n").encode()
    if resp.error is not None:
        code = exit_code or resp.exit_code
        if not opts.silent or opts.show_error:
            res.stderr += f"curl: ({code}) {resp.describe()}\n".encode()
        res.code = code
        if opts.write_out:
            res.write(_write_out(opts.write_out, 0, resp.elapsed, 0))
        return res
    head = f"HTTP/1.1 {resp.status} {reason(resp.status)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in resp.header_items) + "\r\n"
    body = b"" if method == "HEAD" else resp.body
    shown = (head.encode() if opts.head or opts.include else b"") + body
    if opts.output is None or opts.output == "-":
        res.write(shown)
    if opts.write_out:
        res.write(_write_out(opts.write_out, resp.status, resp.elapsed, len(body)))
    return res


def _https(ctx: PodContext, opts: CurlOptions, split, method: str):  # -> (Response, exit code)
    """One HTTPS exchange straight from the pod to the name's endpoint (never raises)."""
    import http.client
    import ipaddress
    import socket
    import ssl
    import time

    from istiolab.workloads import client

    host, port = split.hostname or "", split.port or 443
    path = (split.path or "/") + (f"?{split.query}" if split.query else "")
    start = time.perf_counter()
    try:
        address = opts.resolve.get((host, port))
        ip, real_port = (
            (address, port) if address else client.resolve(host, port, ctx.hosts(), ctx.namespace)
        )
        if not ipaddress.ip_address(ip).is_loopback:
            raise client.ResolveError(f"{host}: outside the local mesh")
        context = ssl.create_default_context(cafile=opts.cacert)
        if opts.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        sock = socket.create_connection(
            (ip, real_port), timeout=opts.timeout, source_address=(ctx.app_ip, 0)
        )
        conn = http.client.HTTPConnection(host, port, timeout=opts.timeout)
        conn.sock = context.wrap_socket(sock, server_hostname=host)
        try:
            headers = {"Host": split.netloc, "User-Agent": client.CURL_USER_AGENT, "Accept": "*/*"}
            headers.update(opts.headers)
            body = opts.data.encode() if opts.data is not None else None
            conn.request(method, path, body=body, headers=headers)
            raw = conn.getresponse()
            data = raw.read()
        finally:
            conn.close()
    except ssl.SSLCertVerificationError as exc:
        detail = f"SSL certificate problem: {exc.verify_message}"
        return client.Response(0, error="tls", detail=detail), 60
    except ssl.SSLError as exc:
        return client.Response(0, error="tls", detail=f"TLS connect error: {exc.reason}"), 35
    except (OSError, http.client.HTTPException, client.ResolveError, ValueError) as exc:
        kind, detail = client.classify(exc)
        return client.Response(
            0, elapsed=time.perf_counter() - start, error=kind, detail=detail
        ), None
    items = list(raw.getheaders())
    merged = {k.lower(): v for k, v in items}
    return client.Response(
        raw.status, merged, data, time.perf_counter() - start, header_items=items
    ), None
