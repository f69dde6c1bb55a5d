"""The one table of kinds: names, aliases and where each kind lives in the Kubernetes API.

Every door to the config store reads it: the CLI (``istiolab get vs``), the store (keys,
cluster scope, kubectl-style answers such as ``virtualservice.networking.istio.io/reviews
created``) and the local mesh's Kubernetes API (discovery, URLs, short names). Facts are
Kubernetes' and Istio's own: plurals, short names (``vs``, ``dr``, ``gw``, ``se``, ``pa``,
``ra``, ``ap``, the Gateway API's ``gtw``), groups and served versions. The Gateway API's
Gateway shares its kind name with Istio's: ``Gateway`` names Istio's (:data:`BY_KIND`,
:func:`lookup`), the store keys the other by :data:`GATEWAY_API_GATEWAY`
(:attr:`KindInfo.store_kind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from istiolab.errors import ParameterError


@dataclass(frozen=True)
class KindInfo:
    """One kind as the Kubernetes API serves it."""

    kind: str
    group: str  # "" for the core group
    versions: tuple[str, ...]  # served versions, the preferred (storage) one first
    plural: str
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    read_only: bool = False  # derived by the mesh (Pods come from Deployments)
    categories: tuple[str, ...] = ()
    stored_as: str = ""  # the store's kind when the kind's name collides with another's

    @property
    def store_kind(self) -> str:
        """The kind the config store keys this kind's objects by."""
        return self.stored_as or self.kind

    @property
    def version(self) -> str:
        return self.versions[0]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def custom(self) -> bool:
        """Served from a CustomResourceDefinition on a cluster (the Istio kinds)."""
        return self.group.endswith("istio.io") or self.group == _GW

    @property
    def qualified(self) -> str:
        """kubectl's resource.group name: ``virtualservice.networking.istio.io``."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def aliases(self) -> tuple[str, ...]:
        return (self.singular, self.plural, *self.short_names)


_NET = ("v1", "v1beta1", "v1alpha3")
_SEC = ("v1", "v1beta1")
_ISTIO = ("istio-io", "networking-istio-io")
_GW = "gateway.networking.k8s.io"
# the Gateway API's Gateway is stored under a qualified kind, so it never replaces an Istio
# Gateway of the same name (kubectl: `get gtw`, `get gateways.gateway.networking.k8s.io`)
GATEWAY_API_GATEWAY = f"Gateway.{_GW}"

KINDS: tuple[KindInfo, ...] = (
    KindInfo("Namespace", "", ("v1",), "namespaces", ("ns",), namespaced=False),
    KindInfo("Service", "", ("v1",), "services", ("svc",), categories=("all",)),
    KindInfo("ServiceAccount", "", ("v1",), "serviceaccounts", ("sa",)),
    KindInfo("ConfigMap", "", ("v1",), "configmaps", ("cm",)),
    KindInfo("Secret", "", ("v1",), "secrets"),
    KindInfo("Pod", "", ("v1",), "pods", ("po",), read_only=True, categories=("all",)),
    KindInfo("Deployment", "apps", ("v1",), "deployments", ("deploy",), categories=("all",)),
    KindInfo("VirtualService", "networking.istio.io", _NET, "virtualservices", ("vs",), True,
             categories=_ISTIO),
    KindInfo("DestinationRule", "networking.istio.io", _NET, "destinationrules", ("dr",), True,
             categories=_ISTIO),
    KindInfo("Gateway", "networking.istio.io", _NET, "gateways", ("gw",), True,
             categories=_ISTIO),
    KindInfo("ServiceEntry", "networking.istio.io", _NET, "serviceentries", ("se",), True,
             categories=_ISTIO),
    KindInfo("Sidecar", "networking.istio.io", _NET, "sidecars", (), True, categories=_ISTIO),
    KindInfo("WorkloadEntry", "networking.istio.io", _NET, "workloadentries", ("we",), True,
             categories=_ISTIO),
    KindInfo("EnvoyFilter", "networking.istio.io", ("v1alpha3",), "envoyfilters", (), True,
             categories=_ISTIO),
    KindInfo("PeerAuthentication", "security.istio.io", _SEC, "peerauthentications", ("pa",),
             True, categories=("istio-io", "security-istio-io")),
    KindInfo("AuthorizationPolicy", "security.istio.io", _SEC, "authorizationpolicies", ("ap",),
             True, categories=("istio-io", "security-istio-io")),
    KindInfo("RequestAuthentication", "security.istio.io", _SEC, "requestauthentications",
             ("ra",), True, categories=("istio-io", "security-istio-io")),
    KindInfo("Telemetry", "telemetry.istio.io", ("v1", "v1alpha1"), "telemetries", ("telemetry",),
             True, categories=("istio-io", "telemetry-istio-io")),
    # the Gateway API (its Gateway is the store's GATEWAY_API_GATEWAY: the kind collides)
    KindInfo("Gateway", _GW, ("v1", "v1beta1"), "gateways", ("gtw",),
             categories=("gateway-api",), stored_as=GATEWAY_API_GATEWAY),
    KindInfo("GatewayClass", _GW, ("v1", "v1beta1"), "gatewayclasses", ("gc",), namespaced=False,
             categories=("gateway-api",)),
    KindInfo("HTTPRoute", _GW, ("v1", "v1beta1"), "httproutes", (), categories=("gateway-api",)),
    KindInfo("GRPCRoute", _GW, ("v1",), "grpcroutes", (), categories=("gateway-api",)),
    KindInfo("TCPRoute", _GW, ("v1alpha2",), "tcproutes", (), categories=("gateway-api",)),
    KindInfo("TLSRoute", _GW, ("v1alpha2", "v1alpha3"), "tlsroutes", (),
             categories=("gateway-api",)),
    KindInfo("ReferenceGrant", _GW, ("v1beta1", "v1alpha2"), "referencegrants", ("refgrant",),
             categories=("gateway-api",)),
)  # fmt: skip

# Kinds the store keeps cluster-wide though the Kubernetes API of the mesh does not serve them
OTHER_CLUSTER_SCOPED = frozenset(
    {
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "PersistentVolume",
        "StorageClass",
    }
)
CLUSTER_SCOPED = frozenset({k.kind for k in KINDS if not k.namespaced}) | OTHER_CLUSTER_SCOPED
# by kind name; "Gateway" is Istio's (the first listed), the Gateway API's is GATEWAY_API_GATEWAY
BY_KIND: dict[str, KindInfo] = {k.store_kind: k for k in reversed(KINDS)}


def lookup(word: str) -> KindInfo | None:
    """The kind a kubectl word names: ``vs``, ``virtualservice``, ``virtualservices``,
    ``VirtualService``, ``virtualservices.networking.istio.io`` (case-insensitive)."""
    name, _, group = word.strip().lower().partition(".")
    for info in KINDS:
        if name in info.aliases() and (not group or group == info.group):
            return info
    return None


def kind_info(word: str) -> KindInfo:
    """:func:`lookup`, or a ParameterError listing every kind and short name."""
    info = lookup(word)
    if info is None:
        allowed = ", ".join(
            f"{k.kind} ({', '.join(k.short_names)})" if k.short_names else k.kind for k in KINDS
        )
        raise ParameterError("KIND", word, f"one of {allowed}")
    return info


def canonical_kind(word: str) -> str:
    """The kind a word names; an unknown word comes back as written (without ``.group``)."""
    info = lookup(word)
    return info.store_kind if info else word.strip().split(".", 1)[0]


def by_resource(group: str, plural: str) -> KindInfo | None:
    """The kind served at ``/apis/<group>/<version>/<plural>``."""
    return next((k for k in KINDS if k.group == group and k.plural == plural), None)


def store_kind(obj: Mapping) -> str:
    """The kind an object is stored and deleted under: its kind, qualified for the Gateway
    API's Gateway (:data:`GATEWAY_API_GATEWAY`)."""
    kind = str(obj.get("kind", ""))
    if kind == "Gateway" and str(obj.get("apiVersion", "")).startswith(f"{_GW}/"):
        return GATEWAY_API_GATEWAY
    return kind


def resource_name(obj: Mapping) -> str:
    """kubectl's way of naming an object: ``deployment.apps/details-v1``, ``service/details``."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    name = (obj.get("metadata") or {}).get("name", "")
    return f"{kind}.{group}/{name}" if group else f"{kind}/{name}"
