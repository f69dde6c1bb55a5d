"""Local mesh commands: up, down, status, gateway-url, apply, delete, get, request, proxy-*.

Thin edge: options are parsed here, the work is done by `istiolab.local` (a running mesh
is reached through its control API; a stopped one through its persisted config store).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

import click

from istiolab.errors import MeshError, NotFoundError, ParameterError
from istiolab.local.control import ControlClient, NotRunning
from istiolab.local.state import StateDir, pid_alive, resolve_state_dir

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $ISTIOLAB_STATE_DIR, else ./.istiolab).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)

# kubectl-style names and short names -> kind
KINDS = {
    "namespace": "Namespace",
    "ns": "Namespace",
    "deployment": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "svc": "Service",
    "serviceaccount": "ServiceAccount",
    "sa": "ServiceAccount",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "gateway": "Gateway",
    "gw": "Gateway",
    "virtualservice": "VirtualService",
    "vs": "VirtualService",
    "destinationrule": "DestinationRule",
    "dr": "DestinationRule",
    "serviceentry": "ServiceEntry",
    "se": "ServiceEntry",
    "sidecar": "Sidecar",
    "workloadentry": "WorkloadEntry",
    "we": "WorkloadEntry",
    "peerauthentication": "PeerAuthentication",
    "pa": "PeerAuthentication",
    "authorizationpolicy": "AuthorizationPolicy",
    "ap": "AuthorizationPolicy",
    "requestauthentication": "RequestAuthentication",
    "ra": "RequestAuthentication",
    "envoyfilter": "EnvoyFilter",
    "telemetry": "Telemetry",
}


def kind_of(word: str) -> str:
    key = word.lower().split(".", 1)[0]
    if key.endswith("ies") and key[:-3] + "y" in KINDS:
        key = key[:-3] + "y"
    elif key.endswith("s") and key not in KINDS and key[:-1] in KINDS:
        key = key[:-1]
    if key not in KINDS:
        allowed = sorted({v for v in KINDS.values()})
        raise ParameterError("KIND", word, "one of " + ", ".join(allowed) + " (or a short name)")
    return KINDS[key]


def _state(state_dir: str | None) -> StateDir:
    return StateDir(resolve_state_dir(state_dir))


def _client(state: StateDir, timeout: float = 120.0) -> ControlClient | None:
    """A client for the running supervisor, or None when the mesh is not running."""
    if state.running_pid() is None:
        return None
    return ControlClient(state.socket, timeout=timeout)


def _running(state: StateDir) -> ControlClient:
    client = _client(state)
    if client is None:
        raise NotRunning(
            f"the local mesh is not running (state directory {state.root}); "
            "start it with `istiolab up`"
        )
    return client


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A kubectl/istioctl-style table: left-aligned columns, three spaces apart."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [list(headers), *rows]
    ]
    return "\n".join(lines)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- up / down


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
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Readiness timeout.")
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
) -> None:
    """Start the local mesh: Bookinfo on real Envoy sidecars behind an ingress gateway."""
    from istiolab.local.mesh import Mesh, run_foreground

    t0 = time.monotonic()
    state = _state(state_dir)
    pid = state.running_pid()
    if pid is not None and pid != os.getpid():
        raise MeshError(
            f"the local mesh in {state.root} is already running (pid {pid}); "
            "`istiolab status` shows it, `istiolab down` stops it"
        )
    settings = state.load_settings(
        octet=octet,
        gateway_host=gateway_host,
        gateway_http_port=gateway_port,
        gateway_https_port=gateway_https_port,
    )
    state.save_settings(settings)
    if serve:  # the detached supervisor: plain log lines, no colours

        def log(kind: str, msg: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {kind}: {msg}", flush=True)

        run_foreground(Mesh(state, settings, reporter=log, ready_timeout=timeout))
        return

    console = _console()
    seeded = _seed_samples(state, samples)
    if seeded:
        console.print(f"[dim]applied {seeded}[/]")
    if detach:
        _detach(state, console, timeout, t0)
    else:

        def report(kind: str, msg: str) -> None:
            mark = {"pod": "[green]✔[/]", "proxy": "[cyan]✔[/]"}.get(kind, "[dim]·[/]")
            console.print(f"{mark} {kind:7} {msg}")

        mesh = Mesh(state, settings, reporter=report, ready_timeout=timeout)
        console.print(f"Starting the local mesh in {state.root} (127.{settings.octet}.0.0/16)")

        def ready() -> None:
            _finish_up(state, console, t0, foreground=True)

        run_foreground(mesh, on_ready=ready)
        console.print("The local mesh is stopped.")


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


def _finish_up(state: StateDir, console: Any, t0: float, foreground: bool) -> None:
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
    console.print("  Next: istiolab status | istiolab apply -f FILE | istiolab proxy-status")
    if foreground:
        console.print("  Stop with Ctrl-C (or `istiolab down` from another shell).")
    else:
        console.print("  Stop with `istiolab down`.")


def _detach(state: StateDir, console: Any, timeout: float, t0: float) -> None:
    state.create()
    log_path = state.logs / "supervisor.log"
    argv = [sys.executable, "-m", "istiolab", "up", "--serve", "--state-dir", str(state.root)]
    argv += ["--timeout", str(timeout)]
    with open(log_path, "ab") as log:
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

            raise MeshError(f"the mesh supervisor exited with code {code}: {tail(log_path, 4)}")
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
    _finish_up(state, console, t0, foreground=False)


@click.command()
@state_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True)
def down(state_dir: str | None, timeout: float) -> None:
    """Stop the local mesh and every process it started."""
    from istiolab.local.supervisor import kill_recorded

    state = _state(state_dir)
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
    state = _state(state_dir)
    client = _client(state)
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
    rows = []
    for p in data["pods"]:
        containers = 2 if p["sidecar"] else 1
        ready = containers if p["ready"] else 0
        rows.append(
            [
                p["namespace"],
                p["name"],
                f"{ready}/{containers}",
                "Running" if p["ready"] else "NotReady",
                p["restarts"],
                p["ip"],
            ]
        )
    click.echo(table(["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "IP"], rows))
    notes = [(p, n) for p in data["pods"] for n in p.get("notes") or []]
    if notes:
        click.echo("\nNotes:")
        for p, n in notes:
            click.echo(f"  {p['namespace']}/{p['name']} {n}")
    if data.get("findings"):
        click.echo("\nConfiguration problems:")
        for f in data["findings"]:
            click.echo(f"  {f}")


@click.command("gateway-url")
@state_dir_option
def gateway_url(state_dir: str | None) -> None:
    """The ingress gateway's URL (like $GATEWAY_URL in the Istio docs)."""
    s = _state(state_dir).load_settings()
    click.echo(f"http://{s.gateway_host}:{s.gateway_http_port}")


# ---------------------------------------------------------------- config


def _documents(path: str) -> tuple[list[dict], str]:
    from istiolab.manifests import load_documents

    docs = load_documents(path)
    return [d[2] for d in docs], ("<stdin>" if path == "-" else path)


@click.command()
@click.option("-f", "--filename", "path", required=True, help="File, directory or - (stdin).")
@state_dir_option
def apply(path: str, state_dir: str | None) -> None:
    """Create or update objects (validated first; nothing is applied if any is invalid)."""
    from istiolab.local.mesh import check_images

    objects, source = _documents(path)
    state = _state(state_dir)
    client = _client(state)
    if client is None:
        from istiolab.local.store import ConfigStore

        check_images(objects)
        for line in ConfigStore(state.root).apply(objects, source):
            click.echo(line)
        return
    result = client.post("/apply", {"objects": objects, "source": source})
    _print_change(result)


def _print_change(result: dict) -> None:
    for line in result.get("lines", []):
        click.echo(line)
    for pod in result.get("stopped", []):
        click.echo(f"pod/{pod} stopped")
    for pod in result.get("started", []):
        click.echo(f"pod/{pod} started")
    synced = result.get("synced") or {}
    if synced.get("ok", True):
        click.echo(
            f"{result.get('proxies', 0)} proxies synced in "
            f"{result.get('seconds', 0) * 1000:.0f} ms",
            err=True,
        )
    else:
        click.echo(f"warning: proxies not synced: {synced.get('error')}", err=True)


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "path", default=None, help="Delete the objects in a file.")
@click.option("-n", "--namespace", default="default", show_default=True)
@state_dir_option
def delete(
    kind: str | None,
    names: tuple[str, ...],
    path: str | None,
    namespace: str,
    state_dir: str | None,
) -> None:
    """Delete objects: `delete -f FILE` or `delete KIND NAME... [-n NS]`."""
    if path:
        objects, _ = _documents(path)
        refs = [
            {
                "kind": o.get("kind"),
                "name": (o.get("metadata") or {}).get("name"),
                "namespace": (o.get("metadata") or {}).get("namespace") or namespace,
            }
            for o in objects
        ]
    elif kind and names:
        k = kind_of(kind)
        refs = [{"kind": k, "name": n, "namespace": namespace} for n in names]
    else:
        raise click.UsageError("give -f FILE, or KIND and NAME")
    state = _state(state_dir)
    client = _client(state)
    if client is None:
        from istiolab.local.store import ConfigStore

        store = ConfigStore(state.root)
        missing = []
        for r in refs:
            try:
                click.echo(store.delete(r["kind"], r["name"], r["namespace"]))
            except NotFoundError as exc:
                missing.append(str(exc))
        result: dict = {"errors": missing}
    else:
        result = client.post("/delete", {"refs": refs})
        _print_change(result)
    if result.get("errors"):
        raise NotFoundError("; ".join(result["errors"]))


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-o", "--output", type=click.Choice(["table", "yaml", "json"]), default="table")
@state_dir_option
def get(
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    state_dir: str | None,
) -> None:
    """Show stored objects, like kubectl get."""
    k = kind_of(kind)
    ns = "*" if all_namespaces else namespace
    state = _state(state_dir)
    client = _client(state)
    if client is None:
        from istiolab.local.mesh import _get
        from istiolab.local.store import ConfigStore

        found = _get(ConfigStore(state.root), {"kind": k, "name": name, "namespace": ns})
    else:
        found = client.get("/get", kind=k, name=name, namespace=ns)
    if output == "json":
        click.echo(json.dumps(found[0] if name else {"kind": "List", "items": found}, indent=2))
    elif output == "yaml":
        from istiolab.manifests import to_yaml

        click.echo(to_yaml(found).rstrip())
    elif not found:
        where = "any namespace" if all_namespaces else f"{namespace} namespace"
        click.echo(f"No resources found in {where}.", err=True)
    else:
        headers, rows = _summary(k, found, all_namespaces)
        click.echo(table(headers, rows))


def _summary(kind: str, objects: list[dict], all_ns: bool) -> tuple[list[str], list[list]]:
    def cols(o: dict) -> list[str]:
        spec = o.get("spec") or {}
        if kind == "VirtualService":
            return [json.dumps(spec.get("gateways", [])), json.dumps(spec.get("hosts", []))]
        if kind == "DestinationRule":
            return [spec.get("host", "")]
        if kind == "Deployment":
            return [str(spec.get("replicas", 1))]
        if kind == "Service":
            ports = ",".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])
            )
            return [ports]
        return []

    extra = {
        "VirtualService": ["GATEWAYS", "HOSTS"],
        "DestinationRule": ["HOST"],
        "Deployment": ["REPLICAS"],
        "Service": ["PORT(S)"],
    }.get(kind, [])
    headers = (["NAMESPACE"] if all_ns else []) + ["NAME", *extra]
    rows = []
    for o in objects:
        meta = o.get("metadata") or {}
        ns = [meta.get("namespace") or "default"] if all_ns else []
        rows.append([*ns, meta.get("name", ""), *cols(o)])
    return headers, rows


# ---------------------------------------------------------------- workloads and proxies


def _pods(state: StateDir) -> list[dict]:
    return _running(state).get("/status")["pods"]


def find_pod(pods: list[dict], workload: str) -> dict:
    """WORKLOAD[.NS]: a Deployment name, the pods' `app` label or a pod name."""
    name, _, ns = workload.partition(".")
    ns = ns or "default"
    matches = [
        p
        for p in pods
        if p["namespace"] == ns and name in (p["deployment"], p["labels"].get("app"), p["name"])
    ]
    if not matches:
        known = sorted({f"{p['deployment']}.{p['namespace']}" for p in pods})
        raise NotFoundError(
            f"no workload {name!r} in namespace {ns} (running: {', '.join(known) or 'none'})"
        )
    return sorted(matches, key=lambda p: p["name"])[0]


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

    state = _state(state_dir)
    running = _running(state)
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


def _admin_host(state: StateDir, workload: str) -> tuple[str, dict]:
    pod = find_pod(_pods(state), workload)
    if not (pod["sidecar"] or pod.get("gateway")):
        raise MeshError(
            f"{pod['deployment']}.{pod['namespace']} has no sidecar (namespace not labelled "
            "istio-injection=enabled)"
        )
    return pod["ip"], pod


@click.command("proxy-status")
@state_dir_option
@output_option
def proxy_status(state_dir: str | None, output: str) -> None:
    """xDS sync state of every proxy (like istioctl proxy-status)."""
    from istiolab.local.proxyview import status_rows

    data = _running(_state(state_dir)).get("/proxy-status")
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
            "all",
        ]
    ),
)
@click.argument("workload")
@output_option
@state_dir_option
def proxy_config(what: str, workload: str, output: str, state_dir: str | None) -> None:
    """An Envoy's live configuration, from its admin API (like istioctl proxy-config)."""
    from istiolab.local import envoy, proxyview

    host, _ = _admin_host(_state(state_dir), workload)
    what = what if what.endswith("s") or what == "all" else what + "s"
    if what == "endpoints":
        data = envoy.admin_json(host, "/clusters?format=json")
    else:
        data = envoy.admin_json(
            host, "/config_dump?include_eds" if what == "all" else "/config_dump"
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

    from istiolab.local import envoy

    if regex:
        try:
            re.compile(regex)
        except re.error as exc:
            raise ParameterError("--filter", regex, f"a valid regular expression ({exc})") from None
    host, _ = _admin_host(_state(state_dir), workload)
    path = {"text": "/stats", "json": "/stats?format=json", "prometheus": "/stats/prometheus"}[
        output
    ]
    if regex:
        path += ("&" if "?" in path else "?") + "filter=" + quote(regex, safe="")
    code, body = envoy.admin_request(host, path)
    if code != 200:
        raise MeshError(f"Envoy admin {host}:15000{path} answered {code}: {body.strip()[:200]}")
    click.echo(body.rstrip())
