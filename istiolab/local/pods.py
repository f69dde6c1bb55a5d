"""What runs for a pod of the local mesh: the app process, its Envoy sidecar, the gateway.

Pure where it can be: the process specs are built from the pod, the settings and the state
directory (the only side effect is writing an Envoy's bootstrap file); the supervisor that
runs them belongs to :class:`istiolab.local.mesh.Mesh`. Also the pod-level facts `status`
and the hosts file report: :func:`pod_notes`, :func:`hosts_map`, :func:`pod_dict`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from istiolab.local import envoy
from istiolab.local.model import OUTBOUND_PORT, MeshSettings, Pod, Proxy, Registry
from istiolab.local.state import StateDir
from istiolab.local.supervisor import ProcessSpec, Supervisor
from istiolab.names import INGRESS_GATEWAY

GATEWAY_NAME = INGRESS_GATEWAY  # the gateway's process and pod name
PROXY_SUFFIX = "/istio-proxy"


@dataclass
class PodState:
    pod: Pod
    processes: list[str] = field(default_factory=list)  # supervisor names
    notes: list[str] = field(default_factory=list)  # see pod_notes
    created: float = field(default_factory=time.time)  # wall clock (kubectl's AGE)


def check_images(
    objects: Iterable[Mapping[str, Any]], positions: Sequence[tuple[str, int]] | None = None
) -> None:
    """Refuse (before anything is applied) a Deployment whose image has no implementation.

    `positions` (the (file, document index) of each object, as `apply -f` read them) make
    the error name the file and document; without them it names the Deployment."""
    from istiolab.workloads import images

    for i, o in enumerate(objects):
        if o.get("kind") != "Deployment":
            continue
        meta = o.get("metadata") or {}
        deployment = f"{meta.get('namespace') or 'default'}/{meta.get('name', '?')}"
        where = ""
        if positions is not None:
            source, index = positions[i]
            where = f"{source}: document {index} (Deployment/{meta.get('name', '?')})"
        containers = ((((o.get("spec") or {}).get("template") or {}).get("spec")) or {}).get(
            "containers"
        ) or []
        for c in containers:
            if isinstance(c, Mapping) and images.is_proxy(str(c.get("image") or "")):
                continue  # a gateway proxy (istio-egressgateway): a standalone Envoy
            if isinstance(c, Mapping):
                images.resolve(str(c.get("image") or ""), deployment=deployment, where=where)


def hosts_map(registry: Registry) -> dict[str, list[str]]:
    """What kube DNS + kube-proxy give a pod without a sidecar: ``fqdn:port`` -> pod ip:port."""
    out: dict[str, list[str]] = {}
    for svc in registry.services:
        pods = registry.endpoints(svc)
        for port in svc.ports:
            out[f"{svc.fqdn}:{port.port}"] = [f"{p.ip}:{port.target_port}" for p in pods]
    return out


def pod_notes(pod: Pod, registry: Registry, settings: MeshSettings) -> list[str]:
    """What `status` says about a pod that does not run as on a cluster: its ports below
    1024 when this machine cannot bind them (``settings.privileged_ports is False``)."""
    from istiolab.local.translate.listeners import pod_ports, uncaptured

    if not pod.sidecar:
        return []
    return [
        f"port {port}: not captured by the sidecar (binding ports below 1024 needs root or "
        "net.ipv4.ip_unprivileged_port_start=0); the app listens on the pod IP itself, so "
        "callers reach it directly, without its sidecar"
        for port in sorted(pod_ports(pod, registry.services))
        if uncaptured(port, settings)
    ]


def listen_ip(pod: Pod, port: int, settings: MeshSettings) -> str:
    """Where the app serves a port: the pod-local address behind the sidecar, or the pod IP
    (no sidecar, or a port the sidecar cannot capture, see :func:`pod_notes`)."""
    from istiolab.local.translate.listeners import uncaptured

    return pod.ip if uncaptured(port, settings) else pod.app_ip


def pod_dict(pod: Pod) -> dict:
    """A pod as the control API reports it (`status`, `request --from`)."""
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "ip": pod.ip,
        "app_ip": pod.app_ip,
        "labels": dict(pod.labels),
        "deployment": pod.deployment,
        "image": pod.image,
        "sidecar": pod.sidecar,
        "service_account": pod.service_account,
    }


def pod_rows(
    gateway: Pod,
    states: Iterable[PodState],
    supervisor: Supervisor,
    gateway_created: float | None = None,
) -> list[dict]:
    """Every pod as `status` reports it, the gateway first: :func:`pod_dict` plus readiness,
    restarts, PIDs (from the supervisor), creation time and :func:`pod_notes`."""
    out = []
    gw = gateway
    rows: list[tuple[Pod, list[str], list[str], float | None]] = [
        (gw, [GATEWAY_NAME], [], gateway_created)
    ]
    rows += [(st.pod, st.processes, st.notes, st.created) for st in states]
    for pod, names, notes, created in rows:
        procs = [supervisor.get(n) for n in names]
        ready = sum(
            1 for n, m in zip(names, procs, strict=True) if m is not None and supervisor.is_ready(n)
        )
        out.append(
            {
                **pod_dict(pod),
                "gateway": pod is gw,
                "ready": ready == len(names),
                "containers": len(names),  # app (+ sidecar), or the gateway's Envoy
                "ready_containers": ready,
                "restarts": sum(m.restarts for m in procs if m is not None),
                "pids": {n: m.pid for n, m in zip(names, procs, strict=True) if m},
                "notes": list(notes),
                "created": created,
            }
        )
    return out


def envoy_spec(
    proxy: Proxy,
    name: str,
    labels: Mapping[str, str],
    state: StateDir,
    settings: MeshSettings,
    envoy_binary: str,
) -> ProcessSpec:
    """A real Envoy for `proxy` (sidecar or gateway); writes its bootstrap file."""
    from istiolab.local.bootstrap import bootstrap

    pod = proxy.pod
    base = f"{pod.namespace}.{pod.name}"
    path = envoy.write_bootstrap(state.proxies / f"{base}.json", bootstrap(proxy, settings))
    log = state.logs / f"{base}.envoy.log"
    argv = envoy.envoy_argv(envoy_binary, path, log, proxy.node_id, proxy.cluster_name)
    ip = pod.ip
    admin = settings.admin_socket(ip) or ip  # the owner-only socket when the runtime set one
    return ProcessSpec(
        name=name,
        argv=argv,
        log=state.logs / f"{base}.envoy.out",
        probe=lambda: envoy.is_ready(admin),
        labels={**labels, "ip": ip, "node": proxy.node_id, "admin": admin},
    )


def gateway_spec(
    pod: Pod, state: StateDir, settings: MeshSettings, envoy_binary: str
) -> ProcessSpec:
    """The ingress gateway's Envoy (a router proxy), named :data:`GATEWAY_NAME`."""
    labels = {"role": "gateway", "pod": GATEWAY_NAME}
    return envoy_spec(Proxy("router", pod), GATEWAY_NAME, labels, state, settings, envoy_binary)


def sidecar_spec(
    pod: Pod, state: StateDir, settings: MeshSettings, envoy_binary: str
) -> ProcessSpec:
    """A pod's Envoy sidecar, named ``<ns>/<pod>/istio-proxy``."""
    key = f"{pod.namespace}/{pod.name}"
    labels = {"role": "sidecar", "pod": key}
    return envoy_spec(
        Proxy("sidecar", pod), key + PROXY_SUFFIX, labels, state, settings, envoy_binary
    )


def app_spec(pod: Pod, state: StateDir, settings: MeshSettings) -> ProcessSpec:
    """A pod's app: the image's implementation in ``istiolab.workloads``, on the pod's
    addresses, with the pod's environment; outbound through the sidecar (``HTTP_PROXY``) or,
    without one, resolving Services through the state directory's hosts file."""
    from istiolab.workloads import images

    key = f"{pod.namespace}/{pod.name}"
    impl = images.resolve(pod.image, deployment=f"{pod.namespace}/{pod.deployment}")
    ports = impl.listen_ports(pod.container_ports, pod.args)
    argv = [sys.executable, "-m", "istiolab.workloads", "serve", "--image", pod.image]
    addresses = []
    for port in ports:
        ip = listen_ip(pod, port, settings)
        sock = settings.app_socket(pod.ip, port) if ip != pod.ip else None
        if sock:  # behind the sidecar: an owner-only Unix socket, nothing on loopback
            argv += ["--unix", f"{port}={sock}"]
            addresses.append(f"unix:{sock}")
        else:
            argv += ["--listen", f"{ip}:{port}"]
            addresses.append(f"{ip}:{port}")
    argv += ["--pod-name", pod.name, "--namespace", pod.namespace]
    for arg in pod.args:
        argv.append(f"--arg={arg}")
    env = dict(os.environ)
    env.update({str(k): str(v) for k, v in pod.env.items()})
    env.update({"POD_NAME": pod.name, "POD_NAMESPACE": pod.namespace, "POD_IP": pod.ip})
    env.update({"INSTANCE_IP": pod.ip, "SERVICE_ACCOUNT": pod.service_account})
    for var in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        env.pop(var, None)
    for var in ("ISTIOLAB_HOSTS", "ISTIOLAB_HOSTS_FILE"):
        env.pop(var, None)
    if pod.sidecar:
        env["HTTP_PROXY"] = f"http://{pod.ip}:{OUTBOUND_PORT}"
    else:  # kube DNS: the hosts file the supervisor keeps current (see state.py)
        env["ISTIOLAB_HOSTS_FILE"] = str(state.hosts_file)
    return ProcessSpec(
        name=key,
        argv=argv,
        log=state.logs / f"{pod.namespace}.{pod.name}.log",
        env=env,
        ready_line="ready",
        labels={"role": "app", "pod": key, "listen": ",".join(addresses), "ip": pod.ip},
    )


def pod_addresses(
    pod: Pod, registry: Registry, settings: MeshSettings
) -> list[tuple[str, int, str]]:
    """(host, port, what) of every TCP address the pod's processes will listen on: the
    sidecar's own ports and its inbound ports, or the app's ports on the pod IP."""
    from istiolab.local.model import HEALTH_PORT, PROMETHEUS_PORT
    from istiolab.local.translate.listeners import pod_ports

    key = f"{pod.namespace}/{pod.name}"
    out = []
    ports = sorted(pod_ports(pod, registry.services))
    if pod.sidecar:
        for port in (OUTBOUND_PORT, PROMETHEUS_PORT, HEALTH_PORT):
            out.append((pod.ip, port, f"the sidecar of pod {key}"))
    for port in ports:
        if pod.sidecar and listen_ip(pod, port, settings) != pod.ip:
            out.append((pod.ip, port, f"the inbound port {port} of pod {key} (its sidecar)"))
        else:
            out.append((pod.ip, port, f"port {port} of pod {key}"))
    return out


def pod_specs(
    pod: Pod, state: StateDir, settings: MeshSettings, envoy_binary: str
) -> list[ProcessSpec]:
    """Every process of a workload pod, in start order: the sidecar (if any), then the app;
    a gateway proxy pod (:func:`~istiolab.local.registry.is_gateway_proxy`) is one Envoy."""
    from istiolab.local.registry import is_gateway_proxy

    if is_gateway_proxy(pod):
        key = f"{pod.namespace}/{pod.name}"
        labels = {"role": "gateway", "pod": key}
        return [envoy_spec(Proxy("router", pod), key, labels, state, settings, envoy_binary)]
    specs = [sidecar_spec(pod, state, settings, envoy_binary)] if pod.sidecar else []
    return [*specs, app_spec(pod, state, settings)]
