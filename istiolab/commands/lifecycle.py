"""Local mesh lifecycle commands: up, down, status, gateway-url.

`up` starts the supervisor in the foreground (or detached, returning once ready); `down`
stops it and every process it recorded; `status` asks the running supervisor (or counts
the persisted store of a stopped mesh).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import click

from istiolab.commands.common import (
    make_console,
    mesh_client,
    open_state,
    output_option,
    print_change,
    running_mesh,
    state_dir_option,
    table,
)
from istiolab.errors import IstiolabError, MeshError
from istiolab.local.control import ControlClient
from istiolab.local.state import StateDir, pid_alive


@click.command()
@click.option("--detach", "-d", is_flag=True, help="Run in the background; return once ready.")
@state_dir_option
@click.option(
    "--samples",
    default=None,
    help="Samples to deploy, comma-separated: bookinfo,httpbin,sleep,fortio (default on a "
    "fresh state directory: bookinfo; 'none' for nothing).",
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
    from istiolab.local.mesh import Mesh, run_foreground

    t0 = time.monotonic()
    state = open_state(state_dir)
    pid = state.running_pid()
    if pid is not None and pid != os.getpid():
        if samples and not serve:  # add samples to the running mesh, as kubectl apply would
            _apply_samples_live(state, samples)
            return
        raise MeshError(
            f"the local mesh in {state.root} is already running (pid {pid}); "
            "`istiolab status` shows it, `istiolab down` stops it"
        )
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
    seeded = _seed_samples(state, samples)
    if seeded:
        console.print(f"[dim]applied {seeded}[/]")
    if detach:
        # the detached supervisor reads the settings file: write it, put the old one back
        # if the mesh does not start
        with _settings_kept_on_success(state, settings):
            _detach(state, console, timeout, t0, with_console, console_port)
    else:

        def report(kind: str, msg: str) -> None:
            mark = {"pod": "[green]✔[/]", "proxy": "[cyan]✔[/]"}.get(kind, "[dim]·[/]")
            console.print(f"{mark} {kind:7} {msg}")

        mesh = Mesh(state, settings, reporter=report, ready_timeout=timeout)
        console.print(f"Starting the local mesh in {state.root} (127.{settings.octet}.0.0/16)")

        web = _Console(state, settings, with_console, console_port, report)

        def ready() -> None:
            web.start()
            _finish_up(state, console, t0, foreground=True, with_console=with_console)

        try:
            run_foreground(mesh, on_ready=ready)
        finally:
            web.stop()
        console.print("The local mesh is stopped.")


class _Console:
    """The workshop console served from the mesh's own process (a thread), once it is ready."""

    def __init__(self, state: StateDir, settings: Any, enabled: bool, port: int | None,
                 report: Any) -> None:  # fmt: skip
        self.state, self.enabled, self.port, self.report = state, enabled, port, report
        host = settings.gateway_host
        self.host = "127.0.0.1" if host in ("0.0.0.0", "localhost") else host
        self.running: Any = None

    def start(self) -> None:
        if not self.enabled:
            return
        from istiolab.console import server

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


def _addons(text: str | None) -> str | None:
    """``--addons``, checked before anything starts (the binary too): one-line errors."""
    if text is None:
        return None
    from istiolab.local.telemetry import prometheus

    addons = prometheus.parse_addons(text)
    if prometheus.NAME in addons.split(","):
        prometheus.find_prometheus()
    return addons


@contextlib.contextmanager
def _settings_kept_on_success(state: StateDir, settings: Any) -> Iterator[None]:
    """Save `settings` for the block; if it raises, restore the previous settings file (or
    none), so a failed `up --gateway-host ...` does not stick to the state directory."""
    path = state.settings_file
    previous = path.read_bytes() if path.exists() else None
    state.save_settings(settings)
    try:
        yield
    except BaseException:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(previous)
        raise


def _apply_samples_live(state: StateDir, samples: str) -> None:
    from istiolab.local.mesh import check_images, default_samples

    objects = default_samples(samples.split(","))
    check_images(objects)
    result = running_mesh(state).post("/apply", {"objects": objects, "source": "<samples>"})
    click.echo(f"the local mesh in {state.root} is already running; applied samples: {samples}")
    print_change(result)


def _seed_samples(state: StateDir, samples: str | None) -> str:
    """Apply the samples to the persisted store: always if --samples, else on a fresh store."""
    from istiolab.local.mesh import check_images, default_samples
    from istiolab.local.store import ConfigStore

    store = ConfigStore(state.root)
    if samples is None:
        if list(store.objects()):
            return ""
        samples = "bookinfo"
    objects = default_samples(samples.split(","))
    if len(objects) <= 1 and samples.strip() in ("", "none"):
        return ""
    check_images(objects)
    store.apply(objects, "<samples>")
    return f"samples: {samples} ({len(objects)} objects)"


def _productpage_url(state: StateDir) -> str | None:
    from istiolab.local.store import ConfigStore

    s = state.load_settings()
    for o in ConfigStore(state.root).objects():
        spec = o.get("spec") or {}
        if (
            o.get("kind") == "VirtualService"
            and spec.get("gateways")
            and "productpage" in str(spec)
        ):
            return f"http://{s.gateway_host}:{s.gateway_http_port}/productpage"
    return None


def _finish_up(
    state: StateDir, console: Any, t0: float, foreground: bool, with_console: bool = False
) -> None:
    from istiolab.local.mesh import wait_http

    url = _productpage_url(state)
    if url is not None:
        code = wait_http(url, timeout=30)
        if code != 200:
            console.print(
                f"[yellow]![/] {url} answered {code or 'nothing'} (see `istiolab status`)"
            )
    elapsed = time.monotonic() - t0
    s = state.load_settings()
    console.print(f"[bold green]The local mesh is ready[/] ({elapsed:.1f} s).")
    if url:
        console.print(f"  Bookinfo:        [bold]{url}[/]")
    console.print(f"  Ingress gateway: http://{s.gateway_host}:{s.gateway_http_port}")
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
    state: StateDir,
    console: Any,
    timeout: float,
    t0: float,
    with_console: bool = True,
    console_port: int | None = None,
) -> None:
    state.create()
    log_path = state.logs / "supervisor.log"
    argv = [sys.executable, "-m", "istiolab", "up", "--serve", "--state-dir", str(state.root)]
    argv += ["--timeout", str(timeout)]
    argv += ["--console" if with_console else "--no-console"]
    if console_port is not None:
        argv += ["--console-port", str(console_port)]
    with open(log_path, "ab") as log:
        offset = log.tell()  # this run's lines start here (the log is appended to)
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    console.print(f"Starting the local mesh in the background (pid {child.pid}, log {log_path})")
    client = ControlClient(state.socket, timeout=10)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout + 30
    delay = 0.02
    while True:
        code = child.poll()
        if code is not None:
            from istiolab.local.supervisor import tail

            raise MeshError(
                f"the mesh supervisor exited with code {code}: {tail(log_path, 4, offset)}"
            )
        status = None
        if state.socket.exists():
            try:
                status = client.get("/status")
            except MeshError:
                status = None
        if status:
            for pod in status.get("pods", []):
                key = f"{pod['namespace']}/{pod['name']}"
                if pod.get("ready") and key not in seen:
                    seen.add(key)
                    what = "proxy" if pod.get("gateway") else "pod"
                    extra = " + sidecar" if pod.get("sidecar") else ""
                    console.print(f"[green]✔[/] {what:5} {key} ready ({pod['ip']}{extra})")
            if status.get("phase") == "running":
                break
        if time.monotonic() > deadline:
            raise MeshError(f"the mesh did not become ready in {timeout:.0f}s; see {log_path}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    _finish_up(state, console, t0, foreground=False, with_console=with_console)


@click.command()
@state_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True)
def down(state_dir: str | None, timeout: float) -> None:
    """Stop the local mesh and every process it started."""
    from istiolab.local.supervisor import kill_recorded

    state = open_state(state_dir)
    pid = state.running_pid()
    if pid is not None:
        try:
            ControlClient(state.socket, timeout=5).post("/shutdown")
        except MeshError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    leftovers = kill_recorded(state.read_processes())
    state.clear_runtime()
    if pid is None and not leftovers:
        click.echo(f"The local mesh is not running ({state.root}).")
        return
    extra = f"; {len(leftovers)} leftover processes stopped" if leftovers else ""
    click.echo(f"The local mesh is stopped ({state.root}){extra}.")


# ---------------------------------------------------------------- status


@click.command()
@state_dir_option
@output_option
def status(state_dir: str | None, output: str) -> None:
    """Pods, sidecars and the gateway of the local mesh, and configuration problems."""
    state = open_state(state_dir)
    client = mesh_client(state)
    if client is None:
        from istiolab.local.store import ConfigStore

        stored = len(list(ConfigStore(state.root).objects())) if state.root.exists() else 0
        data = {"running": False, "state_dir": str(state.root), "stored_objects": stored}
        if output == "json":
            click.echo(json.dumps(data, indent=2))
        else:
            click.echo(f"The local mesh is not running ({state.root}; {stored} stored objects).")
            click.echo("Start it with `istiolab up`.")
        return
    data = client.get("/status")
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"Local mesh running (pid {data['pid']}, {data['state_dir']}, up {data['uptime']:.0f}s)"
    )
    click.echo(f"Gateway: {data['gateway_url']}   xDS: {data['xds']}\n")
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
    s = open_state(state_dir).load_settings()
    click.echo(f"http://{s.gateway_host}:{s.gateway_http_port}")
