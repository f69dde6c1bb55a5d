"""What `istiolab up --samples ... --set ...` deploys on the local mesh: the environment spec
with those samples (istiolab.env.local_spec) and settings, as the same objects
`istiolab render` writes for that spec."""

from __future__ import annotations

from collections.abc import Iterable

from istiolab.env import SettingError, apply_sets, environment_objects, local_spec
from istiolab.errors import ParameterError
from istiolab.names import SAMPLES


def default_samples(
    samples: Iterable[str], namespace: str = "default", sets: Iterable[str] = ()
) -> list[dict]:
    """The objects `up` deploys: the namespace (labelled for injection), the samples, the
    Bookinfo gateway and the DestinationRules of the spec, changed by `sets` (`--set`)."""
    chosen = [s.strip() for s in samples if s.strip() and s.strip() != "none"]
    bad = [s for s in chosen if s not in SAMPLES]
    if bad:
        raise ParameterError("--samples", ",".join(bad), "any of " + ", ".join(SAMPLES))
    try:
        spec = local_spec(tuple(dict.fromkeys(chosen)), namespace)
    except SettingError as exc:
        raise exc.named(exc.path, "--samples: ") from None
    return environment_objects(apply_sets(spec, sets))


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
