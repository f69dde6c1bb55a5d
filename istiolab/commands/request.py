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
    state_dir: str | None,
    context: str | None,
) -> None:
    """Send HTTP from inside a pod, through its sidecar: one request (curl) or a load (fortio)."""
    from istiolab.workloads.loadgen import format_fortio

    backend = open_backend(context, state_dir)
    verb = (method or ("POST" if data is not None else "GET")).upper()
    common = dict(method=verb, headers=_parse_headers(headers), data=data, timeout=timeout)
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
