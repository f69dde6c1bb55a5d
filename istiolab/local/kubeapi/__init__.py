"""The Kubernetes API of the local mesh: kubectl and any Kubernetes client work against it.

One concept per module: :mod:`.credentials` (token, serving certificate, kubeconfig),
:mod:`.discovery` (discovery and OpenAPI), :mod:`.view` and :mod:`.hub` (the objects served,
resource versions, watch events), :mod:`.resources` (CRUD and patches over the one config
store, :mod:`.patch`, :mod:`.selectors`), :mod:`.tables` (``kubectl get`` columns),
:mod:`.workloads` (Pods and Deployment status), :mod:`.exec` and :mod:`.commands` (``kubectl
exec`` and what runs in a pod), :mod:`.logs`, :mod:`.portforward` (over :mod:`.spdy`),
:mod:`.protobuf` (the bodies of ``kubectl create``), :mod:`.svcproxy` (``services/proxy``),
:mod:`.istiod` (istiod's pod and its ``pilot-discovery request``),
:mod:`.server` (HTTPS).
:func:`start` wires them to a running :class:`istiolab.local.mesh.Mesh`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from istiolab.local.kubeapi.credentials import API_PORT, CONTEXT

if TYPE_CHECKING:
    from istiolab.local.kubeapi.server import KubeApiServer
    from istiolab.local.mesh import Mesh

__all__ = ["API_PORT", "CONTEXT", "start"]


def start(mesh: Mesh, port: int = API_PORT) -> KubeApiServer:
    """Serve the Kubernetes API for `mesh` on ``<istiod ip>:port`` and write the kubeconfig."""
    from istiolab.local.kubeapi import exec as execs
    from istiolab.local.kubeapi import logs, portforward, svcproxy
    from istiolab.local.kubeapi.credentials import ensure_credentials, write_kubeconfig
    from istiolab.local.kubeapi.hub import Hub
    from istiolab.local.kubeapi.istiod import istiod_pod
    from istiolab.local.kubeapi.resources import Resources
    from istiolab.local.kubeapi.server import KubeApi, KubeApiServer
    from istiolab.local.kubeapi.view import addon_service, gateway_service, snapshot
    from istiolab.local.kubeapi.workloads import timestamp
    from istiolab.local.translate.gatewayapi_status import with_status
    from istiolab.names import (
        ISTIO_SYSTEM,
        PROMETHEUS_PORT,
        PROMETHEUS_SERVICE,
        ZIPKIN_PORT,
        ZIPKIN_SERVICE,
    )

    host = mesh.settings.istiod_ip
    creds = ensure_credentials(mesh.state.kubeapi, mesh.ca, host)
    started = timestamp(mesh.started_at) or ""
    s = mesh.settings
    gateway = gateway_service(s.gateway_host, s.gateway_http_port, s.gateway_https_port, started)

    def stored() -> list[dict]:
        """The store's objects, Gateway API ones with the status Istio writes back."""
        objects = mesh.store.objects()
        return with_status(objects, objects, mesh.registry)

    def owned() -> dict[tuple[str, str], tuple[str, int]]:
        """The Services the mesh runs itself, by (namespace, name): their addresses."""
        found = {(ISTIO_SYSTEM, ZIPKIN_SERVICE): (host, ZIPKIN_PORT)}  # the span collector
        if mesh.prometheus is not None:
            found[(ISTIO_SYSTEM, PROMETHEUS_SERVICE)] = (host, PROMETHEUS_PORT)
        return found

    control_plane = istiod_pod(host, mesh.started_at)

    def own() -> list[dict]:
        """What a cluster with Istio shows that is not in the store: istiod's pod, the
        gateway's and the addons' Services."""
        addons = [addon_service(name, port, h, started) for (_, name), (h, port) in owned().items()]
        return [control_plane, gateway, *addons]

    def source() -> dict:
        for _ in range(5):  # the pod table may change while it is read (a rollout)
            try:
                return snapshot(stored(), mesh.pods(), started, own())
            except RuntimeError:
                continue
        return snapshot(stored(), mesh.pods(), started, own())

    hub = Hub(source)
    mesh.store.subscribe(lambda version: hub.poke())  # the other door: `istiolab apply`
    handlers = {
        "exec": execs.handler(mesh),
        "log": logs.handler(mesh),
        "portforward": portforward.handler(mesh),
    }
    api = KubeApi(Resources(mesh, hub), hub, creds, handlers, svcproxy.handler(owned))
    server = KubeApiServer(api, host, port)
    server.start()
    write_kubeconfig(mesh.state.kubeconfig, server.url, creds)
    return server
