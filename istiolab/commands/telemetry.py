"""`istiolab graph`, `istiolab traces` and `istiolab dashboard`: the mesh's telemetry views.

Local mesh: the graph comes from the control plane's Istio metrics (rates over
``--window``), traces from the spans kept in the state directory (no running mesh needed),
dashboards from what serves each view locally. ``--context``: the graph from the cluster's
Prometheus addon and traces from its Zipkin or Jaeger addon (through the API server's service
proxy), dashboards through ``kubectl port-forward``, as ``istioctl dashboard`` does.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess

import click

from istiolab import durations
from istiolab.commands.common import context_option, local_backend, open_backend, state_dir_option
from istiolab.errors import ConfigError, MeshError
from istiolab.names import ISTIO_SYSTEM, PROMETHEUS_PORT, PROMETHEUS_SERVICE


def duration_ms(text: str, option: str) -> float:
    """Milliseconds in a duration option, read by the one parser (istiolab.durations)."""
    try:
        return float(durations.nanoseconds(text)) / 1e6
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: not a duration; use e.g. {durations.EXAMPLES}"
        ) from None


@click.command()
@state_dir_option
@context_option
@click.option("-n", "--namespace", default=None, help="Only edges touching this namespace.")
@click.option("-o", "--output", type=click.Choice(["text", "dot", "json"]), default="text")
@click.option("--window", default="60s", show_default=True, help="Rate window (e.g. 30s, 5m).")
def graph(
    state_dir: str | None, context: str | None, namespace: str | None, output: str, window: str
) -> None:
    """The service graph (as Kiali draws it) from the mesh's Istio metrics (with --context:
    from the cluster's Prometheus addon)."""
    from istiolab.local.telemetry.graph import build_graph, render_dot, render_text

    seconds = duration_ms(window, "--window") / 1000
    data = open_backend(context, state_dir).telemetry_window(seconds)
    g = build_graph(
        [tuple(s) for s in data["now"]],
        [tuple(s) for s in data["then"]],
        data["seconds"],
        namespace,
    )
    if output == "json":
        click.echo(json.dumps(g.to_dict(), indent=2))
    elif output == "dot":
        click.echo(render_dot(g))
    elif not g.edges:
        click.echo(f"no requests in the last {data['seconds']:.0f}s: send some traffic first")
    else:
        click.echo("\n".join(render_text(g)))


@click.command()
@state_dir_option
@context_option
@click.option("--service", default=None, help="Traces through this service (productpage).")
@click.option("--min-duration", default=None, help="Traces at least this long (e.g. 100ms).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def traces(
    state_dir: str | None,
    context: str | None,
    service: str | None,
    min_duration: str | None,
    limit: int,
    output: str,
) -> None:
    """Trace trees (service, operation, duration, status) the mesh's tracers reported (with
    --context: from the cluster's Zipkin or Jaeger addon)."""
    from istiolab.local.telemetry.traces import build_traces, render, select

    least = duration_ms(min_duration, "--min-duration") if min_duration else None
    found = select(build_traces(open_backend(context, state_dir).spans()), service, least, limit)
    if output == "json":
        click.echo(json.dumps([t.to_dict() for t in found], indent=2))
        return
    if not found:
        click.echo(
            "no traces found: Istio samples 1% by default; apply a Telemetry resource with "
            "tracing randomSamplingPercentage: 100 (or send x-b3-sampled: 1)"
        )
    for t in found:
        click.echo("\n".join(render(t)))


ADDONS = {  # name -> (namespace, service, remote port, local port, path)
    "prometheus": (ISTIO_SYSTEM, PROMETHEUS_SERVICE, PROMETHEUS_PORT, PROMETHEUS_PORT, "/"),
    "grafana": ("istio-system", "grafana", 3000, 3000, "/"),
    "kiali": ("istio-system", "kiali", 20001, 20001, "/kiali"),
    "jaeger": ("istio-system", "tracing", 80, 16686, "/"),
}


@click.command()
@state_dir_option
@click.option("--context", default=None, help="A kubeconfig context: port-forward its addon.")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.argument("name", type=click.Choice([*ADDONS, "envoy"]))
@click.argument("workload", required=False)
def dashboard(
    state_dir: str | None, context: str | None, namespace: str, name: str, workload: str | None
) -> None:
    """Open an addon's view, like `istioctl dashboard NAME`."""
    if name == "envoy" and not workload:
        raise ConfigError("dashboard envoy needs a WORKLOAD (e.g. productpage)")
    if context:
        _port_forward(context, name, namespace, workload)
        return
    status = local_backend(state_dir).status()
    telemetry = status.get("telemetry") or {}
    if name == "prometheus":
        if not telemetry.get("prometheus"):
            raise MeshError(
                "prometheus is not running: start the mesh with `istiolab up --addons "
                "prometheus` (Debian's prometheus package); the raw metrics are at "
                f"{telemetry.get('metrics')}"
            )
        click.echo(f"Prometheus: {telemetry['prometheus']}")
    elif name == "kiali":
        click.echo("No Kiali locally: `istiolab graph` (-o dot for Graphviz) draws the graph.")
    elif name == "jaeger":
        click.echo(f"No Jaeger locally: `istiolab traces`; spans: {telemetry.get('zipkin')}")
    elif name == "grafana":
        raise MeshError(
            "grafana has no local equivalent: query Prometheus (`istiolab up --addons "
            "prometheus`) or use `istiolab graph`"
        )
    else:
        pod = next(
            (
                p
                for p in status["pods"]
                if p["namespace"] == namespace
                and workload in (p["deployment"], p["labels"].get("app"), p["name"])
            ),
            None,
        )
        if pod is None:
            raise ConfigError(f"no pod for workload {workload!r} in namespace {namespace}")
        socket_dir = (status.get("settings") or {}).get("socket_dir")
        if socket_dir:  # owner-only: the admin API is a Unix socket in the state directory
            path = f"{socket_dir}/a/{pod['ip']}.sock"
            click.echo(
                f"Envoy admin of {pod['name']} (owner-only Unix socket): "
                f"curl --unix-socket {path} http://localhost/   "
                f"(or istiolab proxy-stats / proxy-config {workload})"
            )
        else:
            click.echo(f"Envoy admin of {pod['name']}: http://{pod['ip']}:15000")


def _port_forward(context: str, name: str, namespace: str, workload: str | None) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise MeshError("dashboard --context needs kubectl on PATH")
    if name == "envoy":
        target, port, local, path = f"deployment/{workload}", 15000, 15000, "/"
    else:
        namespace, service, port, local, path = ADDONS[name]
        target = f"svc/{service}"
    argv = [kubectl, "--context", context, "-n", namespace, "port-forward", target]
    argv.append(f"{local}:{port}")
    click.echo(f"http://localhost:{local}{path}  (Ctrl-C stops the port-forward)")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the port-forward
        subprocess.run(argv, check=False)
