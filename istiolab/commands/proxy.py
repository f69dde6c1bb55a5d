"""Proxy commands: proxy-status, proxy-config, proxy-stats (like istioctl's), read from the
control plane's ACK/NACK tracking and each Envoy's admin API, through the backend (the local
mesh, or with --context a cluster's ``pilot-agent request``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote

import click

from istiolab.backends import ProxySync
from istiolab.commands.common import (
    context_option,
    open_backend,
    output_option,
    state_dir_option,
    table,
)
from istiolab.errors import ParameterError

PROXY_CONFIG_TYPES = (
    "listeners",
    "routes",
    "clusters",
    "endpoints",
    "listener",
    "route",
    "cluster",
    "endpoint",
    "secrets",
    "secret",
    "all",
)


@click.command("proxy-status")
@state_dir_option
@context_option
@output_option
def proxy_status(state_dir: str | None, context: str | None, output: str) -> None:
    """xDS sync state of every proxy (like istioctl proxy-status)."""
    syncs = sorted(open_backend(context, state_dir).proxy_status(), key=lambda p: p.name)
    if output == "json":
        rows = [
            {
                "name": p.name,
                "node": p.node,
                "type": "router" if p.kind == "gateway" else "sidecar",
                "status": dict(p.raw) or None,
            }
            for p in syncs
        ]
        click.echo(json.dumps({"proxies": rows}, indent=2))
        return
    click.echo(table(*status_table(syncs)))


def status_table(syncs: Iterable[ProxySync]) -> tuple[list[str], list[list[str]]]:
    """istioctl proxy-status's columns; a proxy that never connected reads NOT CONNECTED."""
    kinds = ("CDS", "LDS", "EDS", "RDS")
    rows = []
    for p in syncs:
        states = [p.detail.get(t, "-") if p.detail else "NOT CONNECTED" for t in kinds]
        rows.append([p.name, *states, p.version])
    return ["NAME", *kinds, "VERSION"], sorted(rows)


@click.command("proxy-config")
@click.argument("what", type=click.Choice(PROXY_CONFIG_TYPES))
@click.argument("workload")
@output_option
@state_dir_option
@context_option
def proxy_config(
    what: str, workload: str, output: str, state_dir: str | None, context: str | None
) -> None:
    """An Envoy's live configuration, from its admin API (like istioctl proxy-config)."""
    from istiolab.local import proxyview

    backend = open_backend(context, state_dir)
    what = what if what.endswith("s") or what == "all" else what + "s"
    if what == "secrets":  # SDS: the workload certificate and the root
        from istiolab.local import secretview

        dump = json.loads(backend.proxy_admin(workload, "config_dump"))
        if output == "json":
            click.echo(json.dumps(secretview.secrets(dump), indent=2))
            return
        click.echo(table(*secretview.secret_rows(dump)))
        return
    if what == "endpoints":
        path = "clusters?format=json"
    else:
        path = "config_dump?include_eds" if what == "all" else "config_dump"
    data = json.loads(backend.proxy_admin(workload, path))
    if output == "json":
        click.echo(json.dumps(proxyview.section(what, data), indent=2))
        return
    click.echo(table(*proxyview.rows(what, data)))


@click.command("proxy-stats")
@click.argument("workload")
@click.option("--filter", "regex", default=None, help="Only stats whose name matches REGEX.")
@click.option("-o", "--output", type=click.Choice(["text", "json", "prometheus"]), default="text")
@state_dir_option
@context_option
def proxy_stats(
    workload: str, regex: str | None, output: str, state_dir: str | None, context: str | None
) -> None:
    """An Envoy's statistics (admin /stats), e.g. --filter upstream_rq_pending_overflow."""
    if regex:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ParameterError("--filter", regex, f"a valid regular expression ({exc})") from None
    path = {"text": "stats", "json": "stats?format=json", "prometheus": "stats/prometheus"}[output]
    if regex:
        path += ("&" if "?" in path else "?") + "filter=" + quote(regex, safe="")
    click.echo(open_backend(context, state_dir).proxy_admin(workload, path).rstrip())
