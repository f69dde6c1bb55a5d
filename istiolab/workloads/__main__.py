"""Run one sample app as a pod's container process.

    python -m istiolab.workloads serve --image IMAGE --listen HOST:PORT [--listen ...]
        --pod-name NAME --namespace NS

Environment, as on Kubernetes: POD_NAME, POD_NAMESPACE, POD_IP (optional) and the
container's env from the Deployment; ``HTTP_PROXY=http://<pod ip>:15001`` when the pod has
a sidecar (every outbound call then goes through it in absolute form), otherwise
``ISTIOLAB_HOSTS`` (JSON ``{"details.default.svc.cluster.local": "127.10.1.3", ...}``)
resolves service names. Once every listener is bound, one line is printed and flushed:
``ready <host:port> [<host:port> ...]`` (just ``ready`` for client-only images such as
sleep/curl). SIGTERM or SIGINT stops the listeners and exits 0. Exit 1 with one line on
stderr for an unsupported image or a listener that cannot bind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from istiolab.errors import IstiolabError
from istiolab.workloads.images import WorkloadImpl, resolve


def _unix(text: str) -> tuple[int, str]:
    port, sep, path = text.partition("=")
    if not sep or not port.isdigit() or not path.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not PORT=/path/of/socket")
    return int(port), path


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def build_app(impl: WorkloadImpl, ctx):
    """The request handler for `impl` (imports only what that app needs)."""
    if impl.kind == "productpage":
        from istiolab.workloads.productpage import productpage_app

        return productpage_app(ctx)
    if impl.kind in ("details", "reviews", "ratings"):
        from istiolab.workloads import bookinfo

        if impl.kind == "reviews":
            return bookinfo.reviews_app(ctx, impl.version)
        return getattr(bookinfo, f"{impl.kind}_app")(ctx)
    if impl.kind == "httpbin":
        from istiolab.workloads.httpbin import httpbin_app
        from istiolab.workloads.images import repository_name

        return httpbin_app(ctx, repository_name(impl.image).rsplit("/", 1)[-1])
    if impl.kind == "fortio":
        from istiolab.workloads.fortio import fortio_app

        return fortio_app(ctx)
    if impl.kind == "helloworld":
        from istiolab.workloads.helloworld import helloworld_app

        return helloworld_app(ctx, impl.version)
    raise ValueError(f"{impl.name} serves nothing")


USER_AGENTS = {"productpage": "python-requests/2.32.3", "reviews": "Apache-CXF/3.1.18"}


def serve(args: argparse.Namespace) -> int:
    try:
        impl = resolve(args.image)
    except IstiolabError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    if impl.serves and not (args.listen or args.unix):
        ports = ", ".join(str(p) for p in impl.ports)
        print(
            f"error: --listen HOST:PORT is required for image {args.image!r} "
            f"({impl.name} serves HTTP, by default on port {ports})",
            file=sys.stderr,
            flush=True,
        )
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    servers = None
    if impl.kind == "tcp-echo":  # plain TCP, not HTTP
        from istiolab.workloads.tcpecho import EchoServers, prefix_of

        try:
            unix = [path for _, path in args.unix]
            servers = EchoServers(list(args.listen), prefix_of(args.arg), unix)
        except OSError as exc:
            print(f"error: cannot listen: {exc.strerror or exc}", file=sys.stderr, flush=True)
            return 1
        servers.start()
        print("ready " + " ".join(servers.addresses), flush=True)
    elif impl.serves:
        from istiolab.workloads.context import PodContext
        from istiolab.workloads.server import Servers

        pod_name = args.pod_name or os.environ.get("POD_NAME", "")
        namespace = args.namespace or os.environ.get("POD_NAMESPACE", "default")
        environ = dict(os.environ)
        environ["HOSTNAME"] = pod_name or environ.get("HOSTNAME", "")
        ctx = PodContext.from_environ(
            pod_name,
            namespace,
            [host for host, _ in args.listen] or [os.environ.get("POD_IP", "")],
            environ,
            USER_AGENTS.get(impl.kind, ""),
        )
        try:
            servers = Servers(
                build_app(impl, ctx),
                list(args.listen),
                f"istiolab-{impl.kind}",
                unix=list(args.unix),
                pod_ip=os.environ.get("POD_IP", ""),
                access_log=impl.kind == "httpbin",  # the mirroring task reads httpbin's log
            )
        except OSError as exc:
            listen = " ".join([f"{h}:{p}" for h, p in args.listen] + [p for _, p in args.unix])
            print(f"error: cannot listen on {listen}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        servers.start()
        ready = " ".join(servers.names)
        print(f"ready {ready}", flush=True)
    else:
        print("ready", flush=True)
    while not stop.wait(3600):
        pass
    if servers is not None:
        servers.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    # The apps speak plain HTTP (TLS is the sidecar's job); keep http.client from loading
    # OpenSSL, the largest part of start-up time. Only this process is affected.
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    parser = argparse.ArgumentParser(prog="python -m istiolab.workloads")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run a sample app as a pod's container")
    run.add_argument("--image", required=True, help="the container image (picks the app)")
    run.add_argument("--listen", type=_address, action="append", default=[], metavar="HOST:PORT")
    run.add_argument(
        "--unix",
        type=_unix,
        action="append",
        default=[],
        metavar="PORT=PATH",
        help="serve PORT on the Unix socket PATH (mode 0600: behind the pod's sidecar)",
    )
    run.add_argument("--pod-name", default="", help="the pod's name (reviews shows it)")
    run.add_argument("--namespace", default="", help="the pod's namespace")
    run.add_argument("--arg", action="append", default=[], help="a container arg (repeatable)")
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
