"""Istio APIs that were removed, with the current resource to migrate to (what the seeds'
older material still shows: MeshPolicy, ``authentication.istio.io/v1alpha1`` Policy, the
Mixer kinds of ``config.istio.io``, ``rbac.istio.io``'s ServiceRole and friends)."""

from __future__ import annotations

from istiolab.manifests.validation._util import Problem

PEER_AUTHN = "security.istio.io/v1 PeerAuthentication"
TELEMETRY = "the Telemetry API (telemetry.istio.io/v1 Telemetry) or the mesh config"

# (group, kind or "*") -> (removed in, what replaces it)
REMOVED: dict[tuple[str, str], tuple[str, str]] = {
    ("authentication.istio.io", "MeshPolicy"): (
        "Istio 1.6",
        f"a {PEER_AUTHN} named 'default' in the root namespace (istio-system) for mesh-wide mTLS",
    ),
    ("authentication.istio.io", "Policy"): (
        "Istio 1.6",
        f"{PEER_AUTHN} for mTLS (peers) and security.istio.io/v1 RequestAuthentication for "
        "JWT (origins)",
    ),
    ("config.istio.io", "*"): (
        "Istio 1.8 (Mixer)",
        f"{TELEMETRY} for metrics and access logs, security.istio.io/v1 AuthorizationPolicy "
        "for policy checks, an EnvoyFilter with a local rate limit for quotas",
    ),
    ("rbac.istio.io", "*"): (
        "Istio 1.6",
        "security.istio.io/v1 AuthorizationPolicy (ServiceRole + ServiceRoleBinding become "
        "its rules; ClusterRbacConfig becomes an ALLOW or DENY policy)",
    ),
}


def removed_problem(api_version: str, kind: str) -> Problem | None:
    group = api_version.split("/", 1)[0]
    entry = REMOVED.get((group, kind)) or REMOVED.get((group, "*"))
    if entry is None:
        return None
    when, instead = entry
    return Problem(
        "apiVersion",
        f"{api_version}/{kind} was removed in {when}; no current Istio serves it",
        f"migrate to {instead}",
    )
