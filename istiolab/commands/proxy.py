"""Proxy commands: proxy-status, proxy-config, proxy-stats (like istioctl's), read from the
xDS server's ACK/NACK tracking and each Envoy's admin API."""

from __future__ import annotations

import json
import re

import click

from istiolab.commands.common import (
    find_pod,
    open_state,
    output_option,
    running_mesh,
    running_pods,
    state_dir_option,
    table,
)
from istiolab.errors import MeshError, ParameterError
from istiolab.local.state import StateDir


def _admin_host(state: StateDir, workload: str) -> tuple[str, dict]:
    pod = find_pod(running_pods(state), workload)
    if not (pod["sidecar"] or pod.get("gateway")):
        raise MeshError(
            f"{pod['deployment']}.{pod['namespace']} has no sidecar (namespace not labelled "
            "istio-injection=enabled)"
        )
    return pod["ip"], pod


def _admin_json(state: StateDir, ip: str, path: str) -> dict:
    from istiolab.local.admin import admin_call

    return json.loads(admin_call(state, ip, path))


@click.command("proxy-status")
@state_dir_option
@output_option
def proxy_status(state_dir: str | None, output: str) -> None:
    """xDS sync state of every proxy (like istioctl proxy-status)."""
    from istiolab.local.proxyview import status_rows

    data = running_mesh(open_state(state_dir)).get("/proxy-status")
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    headers, rows = status_rows(data["proxies"])
    click.echo(table(headers, rows))


@click.command("proxy-config")
@click.argument(
    "what",
    type=click.Choice(
        [
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
        ]
    ),
)
@click.argument("workload")
@output_option
@state_dir_option
def proxy_config(what: str, workload: str, output: str, state_dir: str | None) -> None:
    """An Envoy's live configuration, from its admin API (like istioctl proxy-config)."""
    from istiolab.local import proxyview

    state = open_state(state_dir)
    host, _ = _admin_host(state, workload)
    what = what if what.endswith("s") or what == "all" else what + "s"
    if what == "secrets":  # SDS: the workload certificate and the root (istiolab.local.pki)
        from istiolab.local import secretview

        dump = _admin_json(state, host, "/config_dump")
        if output == "json":
            click.echo(json.dumps(secretview.secrets(dump), indent=2))
            return
        click.echo(table(*secretview.secret_rows(dump)))
        return
    if what == "endpoints":
        data = _admin_json(state, host, "/clusters?format=json")
    else:
        data = _admin_json(
            state, host, "/config_dump?include_eds" if what == "all" else "/config_dump"
        )
    if output == "json":
        click.echo(json.dumps(proxyview.section(what, data), indent=2))
        return
    headers, rows = proxyview.rows(what, data)
    click.echo(table(headers, rows))


@click.command("proxy-stats")
@click.argument("workload")
@click.option("--filter", "regex", default=None, help="Only stats whose name matches REGEX.")
@click.option("-o", "--output", type=click.Choice(["text", "json", "prometheus"]), default="text")
@state_dir_option
def proxy_stats(workload: str, regex: str | None, output: str, state_dir: str | None) -> None:
    """An Envoy's statistics (admin /stats), e.g. --filter upstream_rq_pending_overflow."""
    from urllib.parse import quote

    from istiolab.local.admin import admin_call

    if regex:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ParameterError("--filter", regex, f"a valid regular expression ({exc})") from None
    state = open_state(state_dir)
    host, _ = _admin_host(state, workload)
    path = {"text": "/stats", "json": "/stats?format=json", "prometheus": "/stats/prometheus"}[
        output
    ]
    if regex:
        path += ("&" if "?" in path else "?") + "filter=" + quote(regex, safe="")
    click.echo(admin_call(state, host, path).rstrip())
