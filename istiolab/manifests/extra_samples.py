"""More of Istio's samples: ``tcp-echo`` (the TCP traffic-shifting task), ``helloworld``
(the secure-gateway and multicluster tasks) and the egress gateway the demo profile
installs (``istio-egressgateway`` in ``istio-system``). Facts carried over from Istio's
samples and charts (names, ports, labels, args, images); the objects are written here."""

from __future__ import annotations

from collections.abc import Iterable

from istiolab import versions
from istiolab.manifests._base import ISTIO_SYSTEM, check_choice, check_name, deployment, obj

TCP_ECHO_IMAGE = "docker.io/istio/tcp-echo-server:1.3"
TCP_ECHO_PREFIX = {"v1": "one", "v2": "two"}
TCP_ECHO_PORTS = (9000, 9001)
HELLOWORLD_PORT = 5000
HELLOWORLD_VERSIONS = ("v1", "v2")
EGRESS_LABELS = {"app": "istio-egressgateway", "istio": "egressgateway"}


def _versioned(
    app: str, version: str, namespace: str, image: str, ports: Iterable[int], **container
) -> dict:
    labels = {"app": app, "version": version}
    spec = {
        "containers": [
            {
                "name": app,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": p} for p in ports],
                **container,
            }
        ]
    }
    return deployment(f"{app}-{version}", namespace, labels, {"labels": dict(labels)}, spec)


def tcp_echo(namespace: str = "default", versions_: Iterable[str] = ("v1", "v2")) -> list[dict]:
    """Service ``tcp-echo`` (``tcp`` 9000, ``tcp-other`` 9001) and one Deployment per
    version, prefixing each echoed line with ``one`` (v1) or ``two`` (v2)."""
    check_name("namespace", namespace)
    service = obj(
        "v1",
        "Service",
        "tcp-echo",
        namespace,
        labels={"app": "tcp-echo", "service": "tcp-echo"},
        spec={
            "ports": [
                {"name": "tcp", "port": 9000},
                {"name": "tcp-other", "port": 9001},
            ],
            "selector": {"app": "tcp-echo"},
        },
    )
    out = [service]
    for version in versions_:
        check_choice("version", version, TCP_ECHO_PREFIX)
        args = ["9000,9001,9002", TCP_ECHO_PREFIX[version]]
        out.append(
            _versioned("tcp-echo", version, namespace, TCP_ECHO_IMAGE, TCP_ECHO_PORTS, args=args)
        )
    return out


def helloworld(
    namespace: str = "default", versions_: Iterable[str] = HELLOWORLD_VERSIONS
) -> list[dict]:
    """Service ``helloworld`` (``http`` 5000) and Deployments ``helloworld-v1``/``-v2``."""
    check_name("namespace", namespace)
    service = obj(
        "v1",
        "Service",
        "helloworld",
        namespace,
        labels={"app": "helloworld", "service": "helloworld"},
        spec={
            "ports": [{"name": "http", "port": HELLOWORLD_PORT}],
            "selector": {"app": "helloworld"},
        },
    )
    out = [service]
    for version in versions_:
        check_choice("version", version, HELLOWORLD_VERSIONS)
        image = f"docker.io/istio/examples-helloworld-{version}:1.0"
        out.append(_versioned("helloworld", version, namespace, image, [HELLOWORLD_PORT]))
    return out


def egress_gateway() -> list[dict]:
    """``istio-egressgateway`` (Deployment and Service, ports 80 -> 8080 ``http2`` and
    443 -> 8443 ``https``) in ``istio-system``, as the demo profile installs it."""
    labels = dict(EGRESS_LABELS)
    spec = {
        "serviceAccountName": "istio-egressgateway-service-account",
        "containers": [
            {
                "name": "istio-proxy",
                "image": f"docker.io/istio/proxyv2:{versions.ISTIO_VERSION}",
                "ports": [{"containerPort": 8080}, {"containerPort": 8443}],
            }
        ],
    }
    meta = {"labels": {**labels, "sidecar.istio.io/inject": "false"}}
    return [
        obj("v1", "ServiceAccount", "istio-egressgateway-service-account", ISTIO_SYSTEM),
        deployment("istio-egressgateway", ISTIO_SYSTEM, labels, meta, spec),
        obj(
            "v1",
            "Service",
            "istio-egressgateway",
            ISTIO_SYSTEM,
            labels=labels,
            spec={
                "selector": labels,
                "ports": [
                    {"name": "http2", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443},
                ],
            },
        ),
    ]
