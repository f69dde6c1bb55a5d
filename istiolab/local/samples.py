"""The samples `istiolab up --samples` deploys on the local mesh (Bookinfo by default)."""

from __future__ import annotations

from collections.abc import Iterable

from istiolab.errors import ParameterError

SAMPLES = ("bookinfo", "httpbin", "sleep", "fortio")


def default_samples(samples: Iterable[str], namespace: str = "default") -> list[dict]:
    """The objects `up` deploys: the namespace (labelled for injection) and the samples."""
    from istiolab import manifests as m

    chosen = [s.strip() for s in samples if s.strip() and s.strip() != "none"]
    bad = [s for s in chosen if s not in SAMPLES]
    if bad:
        raise ParameterError("--samples", ",".join(bad), "any of " + ", ".join(SAMPLES))
    out: list[dict] = [m.namespace(namespace, injection=True)]
    for s in chosen:
        out += getattr(m, s)(namespace)
        if s == "bookinfo":
            out += m.bookinfo_gateway(namespace)
    return out


# istiod's mesh config as an install leaves it (the ConfigMap `istio` in istio-system): the
# egress task reads it and edits outboundTrafficPolicy there (translate/meshconfig.py)
MESH_CONFIG = """\
accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
defaultProviders:
  metrics:
  - prometheus
enablePrometheusMerge: true
outboundTrafficPolicy:
  mode: ALLOW_ANY
rootNamespace: istio-system
trustDomain: cluster.local
"""


def istiod_config() -> dict:
    """The ``istio`` ConfigMap (istio-system) holding the mesh config, as installed."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system", "labels": {"app": "istiod"}},
        "data": {"mesh": MESH_CONFIG},
    }
