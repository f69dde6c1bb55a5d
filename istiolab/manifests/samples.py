"""Namespaces and the sample applications: Bookinfo, httpbin, sleep and the fortio client.

Facts carried over from Istio's samples (names, ports, labels, service accounts, images);
the objects themselves are written here. Every image is pinned in `istiolab.versions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from istiolab import versions
from istiolab.errors import ParameterError
from istiolab.manifests._base import check_name, deployment, obj
from istiolab.manifests.extra_samples import helloworld, tcp_echo
from istiolab.names import SAMPLES as SAMPLES  # re-exported: istiolab.manifests.SAMPLES

BOOKINFO_PORT = 9080
HTTPBIN_PORT, HTTPBIN_TARGET_PORT = 8000, 8080
HTTPBIN_VERSIONS: tuple[str, ...] = ("v1", "v2")

# Bookinfo services and the versions the samples deploy of each.
BOOKINFO_SERVICES: dict[str, tuple[str, ...]] = {
    "details": ("v1",),
    "ratings": ("v1",),
    "reviews": ("v1", "v2", "v3"),
    "productpage": ("v1",),
}

# The Envoy stats the circuit-breaking task reads from the fortio pod's sidecar.
FORTIO_PROXY_CONFIG = json.dumps(
    {
        "proxyStatsMatcher": {
            "inclusionPrefixes": [
                "cluster.outbound",
                "cluster_manager",
                "listener_manager",
                "server",
                "cluster.xds-grpc",
            ]
        }
    },
    separators=(",", ":"),
)


def namespace(name: str, *, injection: bool = True) -> dict:
    """A Namespace, labelled `istio-injection=enabled` unless `injection` is False."""
    check_name("namespace", name)
    labels = {"istio-injection": "enabled"} if injection else None
    return obj("v1", "Namespace", name, labels=labels)


def bookinfo_image(service: str, version: str) -> str:
    repo = f"{versions.BOOKINFO_REGISTRY}/examples-bookinfo-{service}-{version}"
    return f"{repo}:{versions.BOOKINFO_TAG}"


def bookinfo(namespace: str = "default") -> list[dict]:
    """Bookinfo: per service a Service (9080/http), a ServiceAccount `bookinfo-<svc>` and one
    Deployment `<svc>-<version>` per version (details v1, ratings v1, reviews v1-v3,
    productpage v1), labelled `app` and `version`."""
    check_name("namespace", namespace)
    out: list[dict] = []
    for service, service_versions in BOOKINFO_SERVICES.items():
        out.append(_service(service, namespace, BOOKINFO_PORT, BOOKINFO_PORT, {"service": service}))
        out.append(
            obj(
                "v1",
                "ServiceAccount",
                f"bookinfo-{service}",
                namespace,
                labels={"account": service},
            )
        )
        for version in service_versions:
            out.append(_bookinfo_deployment(service, version, namespace))
    return out


def _bookinfo_deployment(service: str, version: str, namespace: str) -> dict:
    container: dict[str, Any] = {
        "name": service,
        "image": bookinfo_image(service, version),
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"containerPort": BOOKINFO_PORT}],
    }
    volumes: list[dict] = []
    if service == "reviews":
        # reviews runs on Open Liberty, which writes its logs and work files here.
        container["env"] = [{"name": "LOG_DIR", "value": "/tmp/logs"}]
        container["volumeMounts"] = [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "wlp-output", "mountPath": "/opt/ibm/wlp/output"},
        ]
        volumes = [{"name": "wlp-output", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
    elif service == "productpage":
        container["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
        volumes = [{"name": "tmp", "emptyDir": {}}]
    return _deployment(
        f"{service}-{version}",
        namespace,
        {"app": service, "version": version},
        f"bookinfo-{service}",
        [container],
        volumes=volumes,
    )


def httpbin(namespace: str = "default", *, versions: Iterable[str] = ("v1",)) -> list[dict]:
    """httpbin: ServiceAccount and Service `httpbin` (8000/http -> 8080) and one Deployment
    `httpbin-<version>` per version (labels app=httpbin, version=<version>)."""
    check_name("namespace", namespace)
    wanted = _versions(versions)
    out = [
        obj("v1", "ServiceAccount", "httpbin", namespace),
        _service("httpbin", namespace, HTTPBIN_PORT, HTTPBIN_TARGET_PORT),
    ]
    for version in wanted:
        container = {
            "name": "httpbin",
            "image": _image("HTTPBIN_IMAGE"),
            "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": HTTPBIN_TARGET_PORT}],
        }
        out.append(
            _deployment(
                f"httpbin-{version}",
                namespace,
                {"app": "httpbin", "version": version},
                "httpbin",
                [container],
            )
        )
    return out


def _versions(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    wanted = tuple(value)
    if not wanted or len(set(wanted)) != len(wanted) or set(wanted) - set(HTTPBIN_VERSIONS):
        raise ParameterError(
            "versions", wanted, "a non-empty subset of " + ", ".join(HTTPBIN_VERSIONS)
        )
    return tuple(v for v in HTTPBIN_VERSIONS if v in wanted)


def sleep(namespace: str = "default") -> list[dict]:
    """The `sleep` client (curl image, idles so you can `exec` curl in it)."""
    check_name("namespace", namespace)
    container = {
        "name": "sleep",
        "image": _image("CURL_IMAGE"),
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sleep", "infinity"],
        "volumeMounts": [{"name": "sleep-secret", "mountPath": "/etc/sleep/tls"}],
    }
    volumes = [{"name": "sleep-secret", "secret": {"secretName": "sleep-secret", "optional": True}}]
    return [
        obj("v1", "ServiceAccount", "sleep", namespace),
        _service("sleep", namespace, 80, 80),
        _deployment("sleep", namespace, {"app": "sleep"}, "sleep", [container], volumes=volumes),
    ]


def fortio(namespace: str = "default") -> list[dict]:
    """The fortio load client: Service `fortio` (8080) and Deployment `fortio-deploy`
    (app=fortio) whose sidecar exposes the cluster.outbound stats the circuit-breaking
    task inspects (annotation `proxy.istio.io/config`)."""
    check_name("namespace", namespace)
    container = {
        "name": "fortio",
        "image": _image("FORTIO_IMAGE"),
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"containerPort": 8080, "name": "http-fortio"},
            {"containerPort": 8079, "name": "grpc-ping"},
        ],
    }
    return [
        _service("fortio", namespace, 8080, 8080),
        _deployment(
            "fortio-deploy",
            namespace,
            {"app": "fortio"},
            None,
            [container],
            pod_annotations={"proxy.istio.io/config": FORTIO_PROXY_CONFIG},
        ),
    ]


SAMPLE_BUILDERS = {
    "bookinfo": bookinfo,
    "httpbin": httpbin,
    "sleep": sleep,
    "fortio": fortio,
    "tcp-echo": tcp_echo,
    "helloworld": helloworld,
}


def _image(name: str) -> str:
    return getattr(versions, name)


def _service(
    name: str,
    namespace: str,
    port: int,
    target_port: int,
    extra_labels: dict[str, str] | None = None,
) -> dict:
    port_spec: dict[str, Any] = {"name": "http", "port": port}
    if target_port != port:
        port_spec["targetPort"] = target_port
    return obj(
        "v1",
        "Service",
        name,
        namespace,
        labels={"app": name, **(extra_labels or {})},
        spec={"ports": [port_spec], "selector": {"app": name}},
    )


def _deployment(
    name: str,
    namespace: str,
    labels: dict[str, str],
    service_account: str | None,
    containers: list[dict],
    *,
    volumes: list[dict] | None = None,
    pod_annotations: dict[str, str] | None = None,
) -> dict:
    pod_meta: dict[str, Any] = {}
    if pod_annotations:
        pod_meta["annotations"] = dict(pod_annotations)
    pod_meta["labels"] = dict(labels)
    pod_spec: dict[str, Any] = {}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    pod_spec["containers"] = containers
    if volumes:
        pod_spec["volumes"] = volumes
    return deployment(name, namespace, labels, pod_meta, pod_spec)
