"""The official `kubernetes` Python client against the local mesh: list, watch, exec, and
custom objects (the Istio kinds), through the kubeconfig context ``istiolab``."""

from __future__ import annotations

import threading

import pytest

pytestmark = [pytest.mark.envoy]


@pytest.fixture(scope="module")
def api(kube):
    from kubernetes import client, config

    return config.new_client_from_config(str(kube.kubeconfig), context="istiolab"), client


def test_list_pods_deployments_and_custom_objects(api):
    api_client, client = api
    core = client.CoreV1Api(api_client)
    pods = core.list_namespaced_pod("default", label_selector="app=productpage")
    assert [p.metadata.name.startswith("productpage-v1-") for p in pods.items] == [True]
    pod = pods.items[0]
    assert [c.name for c in pod.spec.containers] == ["productpage", "istio-proxy"]
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    assert int(pods.metadata.resource_version) > 0
    deployments = client.AppsV1Api(api_client).list_namespaced_deployment("default")
    ready = {d.metadata.name: d.status.ready_replicas for d in deployments.items}
    assert ready["reviews-v2"] == 1 and ready["sleep"] == 1
    custom = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "py-client"},
        "spec": {"hosts": ["details"], "http": [{"route": [{"destination": {"host": "details"}}]}]},
    }
    created = custom.create_namespaced_custom_object(
        "networking.istio.io", "v1", "default", "virtualservices", body
    )
    try:
        assert created["metadata"]["uid"] and created["metadata"]["generation"] == 1
        found = custom.list_namespaced_custom_object(
            "networking.istio.io", "v1", "default", "virtualservices"
        )
        assert "py-client" in [o["metadata"]["name"] for o in found["items"]]
    finally:
        custom.delete_namespaced_custom_object(
            "networking.istio.io", "v1", "default", "virtualservices", "py-client"
        )


def test_watch_sees_a_change(api):
    from kubernetes import watch

    api_client, client = api
    core = client.CoreV1Api(api_client)
    start = core.list_namespaced_config_map("default").metadata.resource_version
    events: list[tuple[str, str]] = []
    w = watch.Watch()

    def run() -> None:
        for ev in w.stream(
            core.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=20
        ):
            events.append((ev["type"], ev["object"].metadata.name))
            if ev["object"].metadata.name == "watched":
                w.stop()

    reader = threading.Thread(target=run)
    reader.start()
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"a": "b"})
    core.create_namespaced_config_map("default", body)
    try:
        reader.join(25)
        assert ("ADDED", "watched") in events
    finally:
        core.delete_namespaced_config_map("watched", "default")


def test_exec_returns_output_and_exit_code(api):
    from kubernetes.stream import stream

    api_client, client = api
    core = client.CoreV1Api(api_client)
    pod = core.list_namespaced_pod("default", label_selector="app=sleep").items[0].metadata.name

    def run(*command: str):
        resp = stream(
            core.connect_get_namespaced_pod_exec,
            pod,
            "default",
            command=list(command),
            container="sleep",
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
            _preload_content=False,
        )
        resp.run_forever(timeout=30)
        return resp.read_stdout(), resp.read_stderr(), resp.returncode

    out, _, code = run(
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin:8000/status/503"
    )
    assert (out, code) == ("503", 0)
    _, err, code = run("wget", "http://httpbin:8000/")
    assert code == 127 and "supported: curl" in err
