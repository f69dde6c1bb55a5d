"""`istiolab request`: HTTP from inside a pod, through its sidecar (curl or a fortio load)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import click

from istiolab.commands.common import context_option, open_backend, state_dir_option
from istiolab.errors import ParameterError


def _parse_headers(values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in values:
        k, sep, v = h.partition(":")
        if not sep or not k.strip():
            raise ParameterError("-H", h, "a header as 'Name: value'")
        out[k.strip()] = v.strip()
    return out


@click.command()
@click.option("--from", "source", required=True, help="WORKLOAD[.NS] to send from.")
@click.argument("url")
@click.option("-H", "--header", "headers", multiple=True, help="'Name: value' (repeatable).")
@click.option("-X", "--request", "method", default=None, help="Method (default GET, POST with -d).")
@click.option("-d", "--data", default=None, help="Request body.")
@click.option("--count", "-n", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--qps", type=float, default=None, help="Target requests per second (load).")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.option("--body", "show_body", is_flag=True, help="Print the response body (one request).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option("-k", "--insecure", is_flag=True, help="https://: skip certificate checks.")
@click.option("--cacert", default=None, help="https://: CA bundle to verify the server.")
@click.option("--resolve", "resolves", multiple=True, help="https://: HOST:PORT:ADDR, like curl.")
@state_dir_option
@context_option
@click.pass_context
def request(
    ctx: click.Context,
    source: str,
    url: str,
    headers: tuple[str, ...],
    method: str | None,
    data: str | None,
    count: int,
    concurrency: int,
    qps: float | None,
    timeout: float,
    show_body: bool,
    output: str,
    insecure: bool,
    cacert: str | None,
    resolves: tuple[str, ...],
    state_dir: str | None,
    context: str | None,
) -> None:
    """Send HTTP from inside a pod, through its sidecar: one request (curl) or a load (fortio).

    ``tcp://HOST:PORT`` sends one line (``-d``, default ``hello``) and prints the reply, like
    ``nc`` (``--count N``: N connections); ``https://`` originates TLS in the pod, like curl
    (``-k``, ``--cacert``, ``--resolve``)."""
    from istiolab.workloads.loadgen import format_fortio

    backend = open_backend(context, state_dir)
    verb = (method or ("POST" if data is not None else "GET")).upper()
    common = dict(method=verb, headers=_parse_headers(headers), data=data, timeout=timeout)
    if url.startswith(("tcp://", "https://")):
        egress = getattr(backend, "egress", None)
        if egress is None:
            hint = "tcp:// and https:// are sent from the local mesh's pods (no --context)"
            raise ParameterError("URL", url, hint)
        source_ip, proxy, hosts = egress(source)
        namespace = source.partition(".")[2] or "default"
        local = dict(source_ip=source_ip, proxy=proxy, hosts=hosts, namespace=namespace, **common)
        if url.startswith("tcp://"):
            _tcp(ctx, url, data, count, output, local)
        _https(ctx, url, output, show_body, local, insecure, cacert, resolves)
    if count == 1:
        resp = backend.request(source, url, **common)
        if output == "json":
            click.echo(
                json.dumps(
                    {
                        "status": resp.status,
                        "error": resp.error,
                        "headers": dict(resp.headers),
                        "body": resp.text,
                        "elapsed": round(resp.elapsed, 6),
                    },
                    indent=2,
                )
            )
        else:
            click.echo(f"{resp.status:03d}")
            if show_body and resp.body:
                click.echo(resp.text)
            if resp.error:
                click.echo(f"curl: ({resp.exit_code}) {resp.describe()}", err=True)
        ctx.exit(resp.exit_code)
    result = backend.load(source, url, count=count, concurrency=concurrency, qps=qps, **common)
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(format_fortio(result))


def _tcp(ctx: click.Context, url: str, data: str | None, count: int, output: str, common) -> None:
    from istiolab.workloads.tunnel import tcp_send

    kwargs = {k: common[k] for k in ("source_ip", "proxy", "hosts", "namespace", "timeout")}
    replies, errors = [], []
    for _ in range(count):
        reply, error = tcp_send(url, data if data is not None else "hello", **kwargs)
        replies.append(reply)
        errors.append(error)
    if output == "json":
        click.echo(json.dumps({"replies": replies, "errors": errors}, indent=2))
    else:
        for reply, error in zip(replies, errors, strict=True):
            click.echo(reply if error is None else f"nc: {error}", err=error is not None)
    ctx.exit(1 if any(errors) else 0)


def _https(ctx, url, output, show_body, common, insecure, cacert, resolves) -> None:
    from istiolab.workloads.tunnel import https_send

    resolve_to: dict[str, str] = {}
    for entry in resolves:
        host, sep, rest = entry.partition(":")
        port, sep2, addr = rest.partition(":")
        if not (sep and sep2 and port.isdigit() and addr):
            raise ParameterError(
                "--resolve", entry, "HOST:PORT:ADDR, e.g. example.com:443:127.0.0.1"
            )
        resolve_to[f"{host}:{port}"] = addr
    data = common["data"]
    resp, code = https_send(
        url,
        source_ip=common["source_ip"],
        proxy=common["proxy"],
        method=common["method"],
        headers=common["headers"],
        data=data.encode() if isinstance(data, str) else data,
        timeout=common["timeout"],
        hosts=common["hosts"],
        namespace=common["namespace"],
        insecure=insecure,
        cacert=cacert,
        resolve_to=resolve_to,
    )
    if output == "json":
        body = {"status": resp.status, "error": resp.error, "headers": resp.headers}
        click.echo(json.dumps({**body, "body": resp.text, "exit_code": code}, indent=2))
    else:
        click.echo(f"{resp.status:03d}")
        if show_body and resp.body:
            click.echo(resp.text)
        if resp.error:
            click.echo(f"curl: ({code}) {resp.detail or resp.describe()}", err=True)
    ctx.exit(code)
