"""Plain data shared by the local mesh's layers (store, registry, translation, xDS, runtime).

Addressing (Linux loopback is a /8, so every 127.x.y.z binds with no set-up):

- A mesh instance owns one prefix ``127.<octet>`` (default 10; tests pick their own so
  that runs never collide).
- ``127.<o>.0.1`` is istiod (xDS gRPC on 15010, control API), ``127.<o>.0.2`` the ingress
  gateway pod (admin 15000). Gateway *listeners* bind ``settings.gateway_host`` (default
  127.0.0.1) on 8080 (HTTP, for Gateway ports 80 and 8080) and 8443 (for 443 and 8443).
- Workload pods get ``127.<o>.<b>.<c>`` with ``1 <= b < 128``; this is the pod IP that
  Services' endpoints list and that other pods connect to.
- A pod with a sidecar also has a pod-local "localhost": ``127.<o>.<b+128>.<c>``. The app
  listens there on its canonical port (9080, 8000); the sidecar's inbound listeners own
  ``<pod ip>:<port>``, so inbound traffic passes the sidecar first, as iptables makes it on
  a cluster. A pod without a sidecar runs its app on ``<pod ip>:<port>`` directly.
- Sidecar ports on the pod IP: 15001 outbound (apps use it as their HTTP proxy:
  ``HTTP_PROXY=http://<pod ip>:15001``), 15090 Prometheus stats, 15021 health.

Owner-only endpoints: when the runtime sets ``MeshSettings.socket_dir`` (a 0700 directory of
the mesh's owner), the xDS server, every Envoy's admin API and the app of a sidecar pod
listen on Unix sockets there instead of loopback TCP, which every local user can reach:
``xds.sock``, ``a/<pod ip>.sock`` (admin) and ``s/<pod ip>-<port>.sock`` (the app behind
its sidecar; the sidecar's ``inbound|<port>||`` cluster points at it). Without it (tests
that run Envoy against their own xDS server) everything is on TCP as above.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from istiolab.names import ISTIO_SYSTEM  # noqa: F401 - re-exported to the runtime

CLUSTER_DOMAIN = "cluster.local"

ADMIN_PORT = 15000
OUTBOUND_PORT = 15001
INBOUND_CAPTURE_PORT = 15006
HEALTH_PORT = 15021
PROMETHEUS_PORT = 15090
XDS_PORT = 15010


@dataclass(frozen=True)
class MeshSettings:
    """Where one local mesh instance lives. Persisted in the state directory."""

    octet: int = 10  # the mesh owns 127.<octet>.0.0/16
    gateway_host: str = "127.0.0.1"
    gateway_http_port: int = 8080
    gateway_https_port: int = 8443
    addons: str = ""  # comma list of addons the supervisor runs (prometheus)
    # May processes bind ports below 1024 (root, or net.ipv4.ip_unprivileged_port_start=0)?
    # None: the runtime decides when the mesh starts; translation reads it, never the host
    # (None counts as True there). False: such pod ports get no inbound capture.
    privileged_ports: bool | None = None
    # Where owner-only Unix sockets live (set by the runtime when it starts; None: TCP)
    socket_dir: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.octet <= 254:
            raise ValueError(f"octet={self.octet} must be within 1..254")

    @property
    def istiod_ip(self) -> str:
        return f"127.{self.octet}.0.1"

    @property
    def gateway_pod_ip(self) -> str:
        return f"127.{self.octet}.0.2"

    def pod_ip(self, index: int) -> str:
        """The pod IP for the index-th allocated pod (0-based); 127 * 254 pods at most."""
        b, c = divmod(index, 254)
        if b >= 127:
            raise ValueError("the local mesh holds at most 32258 pods")
        return f"127.{self.octet}.{b + 1}.{c + 1}"

    @staticmethod
    def app_ip(pod_ip: str) -> str:
        """The pod-local address an app listens on when the pod has a sidecar."""
        a, o, b, c = (int(x) for x in pod_ip.split("."))
        if not 1 <= b < 128:
            raise ValueError(f"{pod_ip} is not a workload pod IP")
        return f"{a}.{o}.{b + 128}.{c}"

    @property
    def xds_socket(self) -> str | None:
        return f"{self.socket_dir}/xds.sock" if self.socket_dir else None

    def admin_socket(self, ip: str) -> str | None:
        """The Unix socket of the admin API of the proxy on `ip` (gateway or sidecar)."""
        return f"{self.socket_dir}/a/{ip}.sock" if self.socket_dir else None

    def app_socket(self, ip: str, port: int) -> str | None:
        """The Unix socket the app of the sidecar pod on `ip` serves `port` on."""
        return f"{self.socket_dir}/s/{ip}-{port}.sock" if self.socket_dir else None

    def contains(self, ip: str) -> bool:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(f"127.{self.octet}.0.0/16")


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int
    protocol: str = "TCP"  # Kubernetes protocol (TCP/UDP/SCTP)
    app_protocol: str = ""  # appProtocol, or derived from the port name (http-, grpc-, tcp-)

    @property
    def istio_protocol(self) -> Literal["HTTP", "HTTP2", "GRPC", "HTTPS", "TLS", "TCP"]:
        """Istio's protocol selection: appProtocol, then the port name prefix, then TCP."""
        candidate = (self.app_protocol or self.name.split("-", 1)[0]).lower()
        return {
            "http": "HTTP",
            "http2": "HTTP2",
            "grpc": "GRPC",
            "grpc-web": "GRPC",
            "https": "HTTPS",
            "tls": "TLS",
        }.get(candidate, "TCP")  # type: ignore[return-value]


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    selector: Mapping[str, str]
    ports: tuple[ServicePort, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.{CLUSTER_DOMAIN}"


@dataclass(frozen=True)
class Pod:
    """One running replica of a Deployment."""

    name: str  # <deployment>-<stable hash>-<replica index>, like a ReplicaSet's pods
    namespace: str
    ip: str
    labels: Mapping[str, str]
    service_account: str
    deployment: str
    image: str
    container_ports: tuple[int, ...]
    sidecar: bool  # namespace labelled istio-injection=enabled (and not opted out)
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # the first container's args (tcp-echo's ports and prefix)

    @property
    def app_ip(self) -> str:
        return MeshSettings.app_ip(self.ip) if self.sidecar else self.ip

    @property
    def spiffe_id(self) -> str:
        return f"spiffe://{CLUSTER_DOMAIN}/ns/{self.namespace}/sa/{self.service_account}"

    def matches(self, selector: Mapping[str, str]) -> bool:
        return bool(selector) and all(self.labels.get(k) == v for k, v in selector.items())


ProxyType = Literal["sidecar", "router"]


@dataclass(frozen=True)
class Proxy:
    """An Envoy the control plane programs: a pod's sidecar or the ingress gateway."""

    type: ProxyType
    pod: Pod

    @property
    def node_id(self) -> str:
        """Istio's node id format: ``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``."""
        p = self.pod
        return f"{self.type}~{p.ip}~{p.name}.{p.namespace}~{p.namespace}.svc.{CLUSTER_DOMAIN}"

    @property
    def cluster_name(self) -> str:
        """Envoy's --service-cluster: ``<app label>.<namespace>``, as Istio sets it."""
        app = self.pod.labels.get("app", self.pod.deployment)
        return f"{app}.{self.pod.namespace}"


@dataclass(frozen=True)
class Registry:
    """What Kubernetes would know: services and the pods backing them."""

    services: tuple[Service, ...] = ()
    pods: tuple[Pod, ...] = ()

    def endpoints(self, service: Service) -> tuple[Pod, ...]:
        return tuple(
            p for p in self.pods if p.namespace == service.namespace and p.matches(service.selector)
        )

    def service(self, name: str, namespace: str) -> Service | None:
        return next((s for s in self.services if s.name == name and s.namespace == namespace), None)


# xDS type URLs, in the order a server must send them (CDS, EDS, LDS, RDS, SDS).
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
# ECDS: HTTP filter configs by name (RBAC, jwt_authn), so policy changes reach every stream
EXTENSION_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
TYPE_ORDER = (CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SECRET_TYPE, EXTENSION_TYPE)


@dataclass(frozen=True)
class ProxyResources:
    """Everything one proxy is sent, as Envoy v3 JSON dicts (``json_format`` shape).

    Each dict is keyed by resource name (cluster name, listener name, route config name,
    ClusterLoadAssignment cluster_name, secret name, ECDS filter config name). Pure data:
    easy to test and to print with `istiolab proxy-config`.
    """

    clusters: Mapping[str, dict] = field(default_factory=dict)
    endpoints: Mapping[str, dict] = field(default_factory=dict)
    listeners: Mapping[str, dict] = field(default_factory=dict)
    routes: Mapping[str, dict] = field(default_factory=dict)
    secrets: Mapping[str, dict] = field(default_factory=dict)
    extensions: Mapping[str, dict] = field(default_factory=dict)  # ECDS filter configs

    def by_type(self) -> dict[str, Mapping[str, dict]]:
        return {
            CLUSTER_TYPE: self.clusters,
            ENDPOINT_TYPE: self.endpoints,
            LISTENER_TYPE: self.listeners,
            ROUTE_TYPE: self.routes,
            SECRET_TYPE: self.secrets,
            EXTENSION_TYPE: self.extensions,
        }
