"""`istiolab request`: HTTP from inside a pod, through its sidecar (curl or a fortio load)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import click

from istiolab.commands.common import (
    find_pod,
    open_state,
    running_mesh,
    state_dir_option,
)
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
) -> None:
    """Send HTTP from inside a pod, through its sidecar: one request (curl) or a load (fortio)."""
    from istiolab.workloads import client as http

    state = open_state(state_dir)
    running = running_mesh(state)
    pod = find_pod(running.get("/status")["pods"], source)
    proxy = f"http://{pod['ip']}:15001" if pod["sidecar"] else None
    hosts = None if pod["sidecar"] else running.get("/hosts")
    verb = (method or ("POST" if data is not None else "GET")).upper()
    common = dict(
        source_ip=pod["app_ip"],
        proxy=proxy,
        hosts=hosts,
        namespace=pod["namespace"],
        method=verb,
        headers=_parse_headers(headers),
        data=data,
        timeout=timeout,
    )
    if count == 1:
        resp = http.send(url, **common)
        if output == "json":
            click.echo(
                json.dumps(
                    {
                        "status": resp.status,
                        "error": resp.error,
                        "headers": resp.headers,
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
    result = http.load(url, count=count, concurrency=concurrency, qps=qps, **common)
    if output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(http.format_fortio(result))
