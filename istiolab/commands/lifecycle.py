"""Local mesh lifecycle commands: up, down, status, gateway-url.

`up` starts the supervisor in the foreground (or detached, returning once ready); `down`
stops it and every process it recorded; `status` asks the running supervisor (or counts
the persisted store of a stopped mesh).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

import click

from istiolab.commands.common import (
    local_backend,
    make_console,
    output_option,
    print_change,
    state_dir_option,
    table,
)
from istiolab.errors import MeshError

if TYPE_CHECKING:
    from istiolab.backends.local import LocalBackend
    from istiolab.local.state import StateDir


@click.command()
@click.option("--detach", "-d", is_flag=True, help="Run in the background; return once ready.")
@state_dir_option
@click.option(
    "--samples",
    default=None,
    help="Samples to deploy, comma-separated: bookinfo,httpbin,sleep,fortio,tcp-echo,"
    "helloworld (default on a fresh state directory: bookinfo; 'none' for nothing).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of the environment spec, as `istiolab render --set` takes it "
    "(security.mtls=STRICT, traffic=all-v1, ...); repeatable.",
)
@click.option(
    "--octet", type=int, default=None, help="Mesh prefix 127.<octet> (env ISTIOLAB_OCTET)."
)
@click.option("--gateway-host", default=None, help="Gateway listen address (default 127.0.0.1).")
@click.option("--gateway-port", type=int, default=None, help="Gateway HTTP port (default 8080).")
@click.option("--gateway-https-port", type=int, default=None, help="Gateway HTTPS port (8443).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Readiness timeout in seconds (> 0).",
)
@click.option(
    "--addons",
    default=None,
    help="Addons the mesh runs, comma-separated: prometheus (Debian's prometheus package).",
)
@click.option(
    "--console/--no-console",
    "with_console",
    default=True,
    show_default=True,
    help="Serve the workshop console (labs, graph, traces, load runs) beside the mesh.",
)
@click.option("--console-port", type=int, default=None, help="Console port (default 20001).")
@click.option("--serve", is_flag=True, hidden=True, help="Internal: the detached supervisor.")
def up(
    detach: bool,
    state_dir: str | None,
    samples: str | None,
    sets: tuple[str, ...],
    octet: int | None,
    gateway_host: str | None,
    gateway_port: int | None,
    gateway_https_port: int | None,
    timeout: float,
    serve: bool,
    addons: str | None = None,
    with_console: bool = True,
    console_port: int | None = None,
) -> None:
    """Start the local mesh: Bookinfo on real Envoy sidecars behind an ingress gateway."""
    from istiolab.local.daemon import settings_kept_on_success
    from istiolab.local.mesh import Mesh, run_foreground

    t0 = time.monotonic()
    backend = local_backend(state_dir)
    state = backend.state
    pid = state.running_pid()
    if pid is not None and pid != os.getpid():
        # add them to the running mesh, as kubectl would (not to one still starting)
        if (samples or sets) and not serve and state.socket.exists():
            _apply_samples_live(backend, samples or "bookinfo", sets)
            return
        raise _already_running(state, pid)
    settings = state.load_settings(
        octet=octet,
        gateway_host=gateway_host,
        gateway_http_port=gateway_port,
        gateway_https_port=gateway_https_port,
        addons=_addons(addons),
    )
    if settings.gateway_host == "0.0.0.0" and not serve:
        click.echo(
            "note: the gateway listens on 0.0.0.0 (every interface): "
            "it is reachable from other machines",
            err=True,
        )
    if not serve:  # one line naming what is missing, before anything is applied or started
        from istiolab.local.envoy import find_envoy

        find_envoy()
    if serve:  # the detached supervisor: plain log lines, no colours

        def log(kind: str, msg: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {kind}: {msg}", flush=True)

        web = _Console(state, settings, with_console, console_port, log)
        try:
            run_foreground(Mesh(state, settings, reporter=log, ready_timeout=timeout), web.start)
        finally:
            web.stop()
        return

    console = make_console()
    try:
        seeded = _seed_samples(backend, samples, sets)
    except MeshError:
        # another `up` started a supervisor meanwhile (it holds the state directory now)
        other = state.running_pid()
        if other is not None and other != os.getpid():
            raise _already_running(state, other) from None
        raise
    if seeded:
        console.print(f"[dim]applied {seeded}[/]")
    if detach:
        # the detached supervisor reads the settings file: write it, put the old one back
        # if the mesh does not start
        with settings_kept_on_success(state, settings):
            _detach(backend, console, timeout, t0, with_console, console_port)
    else:

        def report(kind: str, msg: str) -> None:
            mark = {"pod": "[green]✔[/]", "proxy": "[cyan]✔[/]"}.get(kind, "[dim]·[/]")
            console.print(f"{mark} {kind:7} {msg}")

        mesh = Mesh(state, settings, reporter=report, ready_timeout=timeout)
        console.print(f"Starting the local mesh in {state.root} (127.{settings.octet}.0.0/16)")

        web = _Console(state, settings, with_console, console_port, report)

        def ready() -> None:
            web.start()
            _finish_up(backend, console, t0, foreground=True, with_console=with_console)

        try:
            run_foreground(mesh, on_ready=ready)
        finally:
            web.stop()
        console.print("The local mesh is stopped.")


def _addons(text: str | None) -> str | None:
    """``--addons``, checked before anything starts (the binary too): one-line errors."""
    if text is None:
        return None
    from istiolab.local.telemetry import prometheus

    addons = prometheus.parse_addons(text)
    if prometheus.NAME in addons.split(","):
        prometheus.find_prometheus()
    return addons


def _apply_samples_live(backend: LocalBackend, samples: str, sets: tuple[str, ...] = ()) -> None:
    from istiolab.local.samples import default_samples

    result = backend.apply(default_samples(samples.split(","), sets=sets), "<samples>")
    click.echo(
        f"the local mesh in {backend.state.root} is already running; applied samples: {samples}"
    )
    print_change(result)


def _seed_samples(backend: LocalBackend, samples: str | None, sets: tuple[str, ...] = ()) -> str:
    """Apply the environment spec (--samples, --set) to the persisted store: always if given,
    else on a fresh store."""
    from istiolab.local.samples import default_samples

    if samples is None:
        if backend.stored() and not sets:
            return ""
        samples = "bookinfo"
    objects = default_samples(samples.split(","), sets=sets)
    if len(objects) <= 1 and samples.strip() in ("", "none"):
        return ""
    backend.seed(objects, "<samples>")
    return f"samples: {samples} ({len(objects)} objects)"


def _productpage_url(backend: LocalBackend) -> str | None:
    s = backend.state.load_settings()
    for o in backend.stored():
        spec = o.get("spec") or {}
        if (
            o.get("kind") == "VirtualService"
            and spec.get("gateways")
            and "productpage" in str(spec)
        ):
            return f"http://{s.gateway_host}:{s.gateway_http_port}/productpage"
    return None


READY_HTTP_TIMEOUT = 30.0  # seconds for productpage to answer 200 once every pod is ready


def _already_running(state: StateDir, pid: int) -> MeshError:
    return MeshError(
        f"the local mesh in {state.root} is already running (pid {pid}); "
        "`istiolab status` shows it, `istiolab down` stops it"
    )


class _Console:
    """The workshop console served from the mesh's own process (a thread), once it is ready."""

    def __init__(
        self, state: StateDir, settings: Any, enabled: bool, port: int | None, report: Any
    ) -> None:
        self.state, self.enabled, self.port, self.report = state, enabled, port, report
        host = settings.gateway_host
        self.host = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host
        self.running: Any = None

    def start(self) -> None:
        if not self.enabled:
            return
        from istiolab.console import server
        from istiolab.errors import IstiolabError

        with contextlib.suppress(FileNotFoundError):
            (self.state.root / server.URL_FILE).unlink()
        try:
            self.running = server.start_background(self.state.root, self.host, self.port)
        except IstiolabError as exc:  # the mesh runs on without its console
            self.report("console", f"not started: {exc}")
            return
        self.report("console", f"serving on {self.running.url.split('?', 1)[0]}")

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


def _finish_up(
    backend: LocalBackend, console: Any, t0: float, foreground: bool, with_console: bool = False
) -> None:
    from istiolab.local.mesh import wait_http

    state = backend.state
    url = _productpage_url(backend)
    if url is not None:
        code = wait_http(url, timeout=READY_HTTP_TIMEOUT)
        if code != 200:
            from istiolab.errors import MeshError

            running = "" if foreground else "; the mesh keeps running: fix the configuration"
            raise MeshError(
                f"{url} answered {code or 'nothing'}, not 200: the mesh is not ready"
                f"{running or ''} (see `istiolab status` and `istiolab proxy-status`"
                f"{', then istiolab apply -f FILE or istiolab down' if running else ''})"
            )
    elapsed = time.monotonic() - t0
    s = state.load_settings()
    console.print(f"[bold green]The local mesh is ready[/] ({elapsed:.1f} s).")
    if url:
        console.print(f"  Bookinfo:        [bold]{url}[/]")
    console.print(f"  Ingress gateway: http://{s.gateway_host}:{s.gateway_http_port}")
    if state.kubeconfig.exists():
        console.print(f"  kubectl:         export KUBECONFIG={state.kubeconfig}")
    if with_console:
        from istiolab.console.server import read_url, wait_for_url

        web = wait_for_url(state.root) if not foreground else read_url(state.root)
        if web:
            console.print(f"  Console:         [bold]{web}[/]")
    console.print("  Next: istiolab status | istiolab apply -f FILE | istiolab proxy-status")
    if foreground:
        console.print("  Stop with Ctrl-C (or `istiolab down` from another shell).")
    else:
        console.print("  Stop with `istiolab down`.")


def _detach(
    backend: LocalBackend,
    console: Any,
    timeout: float,
    t0: float,
    with_console: bool = True,
    console_port: int | None = None,
) -> None:
    from istiolab.local.daemon import start_detached

    def started(pid: int, log: str) -> None:
        console.print(f"Starting the local mesh in the background (pid {pid}, log {log})")

    def pod_ready(pod: dict) -> None:
        what = "proxy" if pod.get("gateway") else "pod"
        extra = " + sidecar" if pod.get("sidecar") else ""
        key = f"{pod['namespace']}/{pod['name']}"
        console.print(f"[green]✔[/] {what:5} {key} ready ({pod['ip']}{extra})")

    serve = ["--console" if with_console else "--no-console"]
    serve += ["--console-port", str(console_port)] if console_port is not None else []
    start_detached(backend.state, timeout, started, pod_ready, serve)
    _finish_up(backend, console, t0, foreground=False, with_console=with_console)


@click.command()
@state_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True)
def down(state_dir: str | None, timeout: float) -> None:
    """Stop the local mesh and every process it started."""
    from istiolab.local.daemon import stop

    state = local_backend(state_dir).state
    was_running, leftovers, note = stop(state, timeout)
    if note:
        click.echo(f"note: {note}", err=True)
    if not was_running and not leftovers:
        click.echo(f"The local mesh is not running ({state.root}).")
        return
    extra = f"; {leftovers} leftover processes stopped" if leftovers else ""
    click.echo(f"The local mesh is stopped ({state.root}){extra}.")


# ---------------------------------------------------------------- status

STATUS_TIMEOUT = 1.5  # a supervisor that does not answer by then is reported as such


def _half_broken(state: StateDir, output: str) -> int | None:
    """Report a half-broken mesh (exit code 1), or None when it is running or stopped."""
    from istiolab.local.health import supervisor_problem

    problem = supervisor_problem(state)
    if problem is None:
        return None
    _report_broken(state, output, problem)
    return 1


def _report_broken(state: StateDir, output: str, problem: str) -> None:
    """What still runs (from the state directory, without the supervisor) and what is wrong."""
    from istiolab.local.state import process_cmdline

    rows = []
    for r in state.mesh_processes():
        argv = process_cmdline(r["pid"])
        rows.append({"pid": r["pid"], "command": " ".join(argv)[:120]})
    supervisor = state.running_pid()
    if output == "json":
        data = {
            "running": False,
            "state_dir": str(state.root),
            "problem": problem,
            "supervisor_pid": supervisor,
            "processes": rows,
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"The local mesh is half broken ({state.root}): {problem}")
    if supervisor is not None:
        click.echo(f"Supervisor: pid {supervisor}")
    if rows:
        click.echo(table(["PID", "COMMAND"], [[r["pid"], r["command"]] for r in rows]))


@click.command()
@state_dir_option
@output_option
def status(state_dir: str | None, output: str) -> None:
    """Pods, sidecars and the gateway of the local mesh, and configuration problems."""
    backend = local_backend(state_dir)
    state = backend.state
    broken = _half_broken(state, output)
    if broken is not None:
        raise click.exceptions.Exit(broken)
    if backend.client() is None:
        stored = len(backend.objects())
        data = {"running": False, "state_dir": str(state.root), "stored_objects": stored}
        if output == "json":
            click.echo(json.dumps(data, indent=2))
        else:
            click.echo(f"The local mesh is not running ({state.root}; {stored} stored objects).")
            click.echo("Start it with `istiolab up`.")
        return
    from istiolab.backends.local import LocalBackend

    try:
        data = LocalBackend(state.root, timeout=STATUS_TIMEOUT).status()
    except MeshError as exc:
        _report_broken(state, output, f"the mesh's supervisor does not answer ({exc})")
        raise click.exceptions.Exit(1) from None
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"Local mesh running (pid {data['pid']}, {data['state_dir']}, up {data['uptime']:.0f}s)"
    )
    click.echo(f"Gateway: {data['gateway_url']}   xDS: {data['xds']}")
    if data.get("kubernetes_api"):
        click.echo(
            f"Kubernetes API: {data['kubernetes_api']}   (export KUBECONFIG={data['kubeconfig']})"
        )
    telemetry = data.get("telemetry") or {}
    if telemetry:
        prom = f"   Prometheus: {telemetry['prometheus']}" if telemetry.get("prometheus") else ""
        click.echo(f"Metrics: {telemetry['metrics']}{prom}")
    click.echo()
    click.echo(table(["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "IP"], pod_rows(data)))
    notes = [(p, n) for p in data["pods"] for n in p.get("notes") or []]
    if notes:
        click.echo("\nNotes:")
        for p, n in notes:
            click.echo(f"  {p['namespace']}/{p['name']} {n}")
    if data.get("findings"):
        click.echo("\nConfiguration problems:")
        for f in data["findings"]:
            click.echo(f"  {f}")
    if data.get("security"):
        click.echo("\nSecurity:")
        for note in data["security"]:
            click.echo(f"  {note}")


def pod_rows(status: dict) -> list[list]:
    """`status` table rows; READY counts ready containers (app, sidecar) like kubectl."""
    rows = []
    for p in status["pods"]:
        containers = p.get("containers", 2 if p["sidecar"] else 1)
        ready = p.get("ready_containers", containers if p["ready"] else 0)
        state = "Running" if p["ready"] else "NotReady"
        rows.append(
            [p["namespace"], p["name"], f"{ready}/{containers}", state, p["restarts"], p["ip"]]
        )
    return rows


@click.command("gateway-url")
@state_dir_option
def gateway_url(state_dir: str | None) -> None:
    """The ingress gateway's URL (like $GATEWAY_URL in the Istio docs)."""
    s = local_backend(state_dir).state.load_settings()
    click.echo(f"http://{s.gateway_host}:{s.gateway_http_port}")
