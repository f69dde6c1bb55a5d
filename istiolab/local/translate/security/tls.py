"""Workload mTLS: auto mTLS on outbound clusters and PeerAuthentication on inbound listeners.

Outbound (client side), per cluster, as istiod decides it:
- DestinationRule ``tls.mode`` ISTIO_MUTUAL -> the Istio TLS socket (its ``sni`` and
  ``subjectAltNames`` override the defaults); DISABLE, SIMPLE,
  MUTUAL -> what the traffic policy set (plaintext or TLS origination);
- no ``tls`` (auto mTLS) -> the Istio TLS socket when every endpoint of the cluster has a
  sidecar that captures the target port and whose PeerAuthentication for it is not
  DISABLE; plaintext otherwise (pods without a sidecar, ServiceEntries, no endpoints).

The Istio TLS socket: the proxy's SDS secret ``default`` as client certificate,
``ROOTCA`` as trust anchor, the destination workloads' SPIFFE ids as the accepted URI SANs,
SNI ``outbound_.<port>_.<subset>_.<host>``, ALPN ``istio-peer-exchange``, ``istio``.

Inbound (server side): PeerAuthentication mode per port (workload ``portLevelMtls`` >
workload ``mtls`` > namespace > mesh (root namespace ``istio-system``) > PERMISSIVE;
``UNSET`` inherits): STRICT -> one filter chain for ``transport_protocol: tls`` (plaintext
matches no chain and is reset); PERMISSIVE -> a TLS chain and a ``raw_buffer`` chain;
DISABLE -> plaintext only. The TLS chain requires a client certificate signed by ROOTCA.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from istiolab.local.model import ISTIO_SYSTEM, Pod
from istiolab.local.translate import names
from istiolab.local.translate.common import labels_match, meta
from istiolab.local.translate.context import Context
from istiolab.local.translate.policy import effective_policy
from istiolab.names import MTLS_MODES

UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
DOWNSTREAM_TLS = (
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
)
ADS = {"ads": {}, "resource_api_version": "V3"}
CERT_SECRET, ROOT_SECRET = "default", "ROOTCA"
ISTIO_ALPN = ["istio-peer-exchange", "istio"]
TLS_INSPECTOR = {
    "name": "envoy.filters.listener.tls_inspector",
    "typed_config": {
        "@type": "type.googleapis.com/"
        "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
    },
}
MODES = MTLS_MODES


def _sds(name: str) -> dict:
    return {"name": name, "sds_config": ADS}


def istio_mutual_socket(sni: str, sans: list[str]) -> dict:
    """The client side of Istio mTLS (the workload cert over SDS, SPIFFE SAN check)."""
    default_validation: dict = {}
    if sans:
        default_validation["match_typed_subject_alt_names"] = [
            {"san_type": "URI", "matcher": {"exact": san}} for san in sorted(set(sans))
        ]
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": UPSTREAM_TLS,
            "sni": sni,
            "common_tls_context": {
                "alpn_protocols": list(ISTIO_ALPN),
                "tls_certificate_sds_secret_configs": [_sds(CERT_SECRET)],
                "combined_validation_context": {
                    "default_validation_context": default_validation,
                    "validation_context_sds_secret_config": _sds(ROOT_SECRET),
                },
            },
        },
    }


def downstream_socket() -> dict:
    """The server side of Istio mTLS: a client certificate signed by ROOTCA is required."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": DOWNSTREAM_TLS,
            "require_client_certificate": True,
            "common_tls_context": {
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificate_sds_secret_configs": [_sds(CERT_SECRET)],
                "combined_validation_context": {
                    "default_validation_context": {},
                    "validation_context_sds_secret_config": _sds(ROOT_SECRET),
                },
            },
        },
    }


# -- PeerAuthentication ------------------------------------------------------------------


def _mode(value: object) -> str | None:
    mode = str(value or "UNSET").upper()
    return mode if mode in MODES else None


def peer_mode(objects_by_kind: list[dict], pod: Pod, port: int) -> str:
    """The PeerAuthentication mode in force for a pod's (target) port."""
    mesh = namespace = workload = None
    port_mode = None
    for pa in objects_by_kind:
        _, ns = meta(pa)
        spec = pa.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        mode = _mode((spec.get("mtls") or {}).get("mode"))
        if selector:
            if ns != pod.namespace or not labels_match(selector, pod.labels):
                continue
            workload = mode or workload
            levels = spec.get("portLevelMtls") or {}
            for key, value in levels.items():
                if str(key) == str(port):
                    port_mode = _mode((value or {}).get("mode")) or port_mode
        elif ns == pod.namespace and ns != ISTIO_SYSTEM:
            namespace = mode or namespace
        elif ns == ISTIO_SYSTEM:
            if pod.namespace == ISTIO_SYSTEM:
                namespace = mode or namespace
            mesh = mode or mesh
    return port_mode or workload or namespace or mesh or "PERMISSIVE"


def secure_inbound(listener: dict, mode: str) -> dict:
    """An inbound listener's filter chains for a PeerAuthentication mode (a new dict)."""
    out = dict(listener)
    chain = listener["filter_chains"][0]
    if mode == "DISABLE":
        return out
    tls_chain = copy.deepcopy(chain)
    tls_chain["filter_chain_match"] = {"transport_protocol": "tls"}
    tls_chain["transport_socket"] = downstream_socket()
    chains = [tls_chain]
    if mode == "PERMISSIVE":
        plain = copy.deepcopy(chain)
        plain["filter_chain_match"] = {"transport_protocol": "raw_buffer"}
        chains.append(plain)
    out["filter_chains"] = chains
    out["listener_filters"] = [TLS_INSPECTOR]
    return out


# -- auto mTLS ---------------------------------------------------------------------------


def _endpoint_pods(ctx: Context, host: str, labels: Mapping | None) -> list[Pod] | None:
    target = ctx.hosts.get(host)
    if target is None or target.service is None:
        return None
    pods = list(ctx.index.endpoints(target.service))
    if labels:
        pods = [p for p in pods if labels_match(labels, p.labels)]
    return pods


def auto_mtls(ctx: Context, clusters: dict[str, dict]) -> dict[str, dict]:
    """The outbound clusters with the Istio TLS socket where Istio would put it (new dicts
    for the clusters it changes; the others are returned as they were)."""
    from istiolab.local.translate.listeners import uncaptured
    from istiolab.local.translate.policy import subset_labels

    pas = ctx.index.of_kind("PeerAuthentication")
    out: dict[str, dict] = {}
    for name, cluster in clusters.items():
        parsed = names.parse_cluster(name)
        if parsed is None or parsed[0] != "outbound":
            out[name] = cluster
            continue
        _, port, subset, host = parsed
        dr = ctx.destination_rule(host)
        tls_policy = effective_policy(dr, port, subset).get("tls") or {}
        mode = tls_policy.get("mode")
        if mode not in (None, "ISTIO_MUTUAL"):
            out[name] = cluster
            continue
        target = ctx.hosts.get(host)
        labels = subset_labels(dr, subset) if subset else None
        pods = _endpoint_pods(ctx, host, labels)
        svc_port = target.port(port) if target else None
        target_port = svc_port[2] if svc_port else port
        if mode is None:
            secure = bool(pods) and all(
                p.sidecar
                and not uncaptured(target_port, ctx.settings)
                and peer_mode(pas, p, target_port) != "DISABLE"
                for p in pods
            )
            if not secure:
                out[name] = cluster
                continue
        # ISTIO_MUTUAL may name the SANs to accept and the SNI to send (Istio's fields)
        sans = list(tls_policy.get("subjectAltNames") or [p.spiffe_id for p in pods or []])
        sni = str(tls_policy.get("sni") or f"outbound_.{port}_.{subset}_.{host}")
        out[name] = {**cluster, "transport_socket": istio_mutual_socket(sni, sans)}
    return out
