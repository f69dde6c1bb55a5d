"""istiolab.manifests: the single source of truth for every Kubernetes and Istio object
istiolab deploys, with the strict validation every object (built or handed in) passes.

Builders are pure functions of small typed parameters returning plain dicts; bad
parameters raise istiolab.errors.ParameterError naming the parameter and what is allowed.
"""

from __future__ import annotations

from istiolab.manifests._base import ISTIO_SYSTEM, check_name
from istiolab.manifests.addons import ADDONS, NODE_PORTS, addons
from istiolab.manifests.io import load_documents, read_documents, to_yaml
from istiolab.manifests.networking import (
    bookinfo_gateway,
    check_hosts,
    destination_rule,
    destination_rules,
)
from istiolab.manifests.samples import (
    SAMPLE_BUILDERS,
    SAMPLES,
    bookinfo,
    fortio,
    httpbin,
    namespace,
    sleep,
)
from istiolab.manifests.security import MTLS_MODES, SECURITY_PRESETS, security_preset
from istiolab.manifests.traffic import TRAFFIC_PRESETS, traffic_preset
from istiolab.manifests.validation import (
    check_documents,
    check_objects,
    supported_kinds,
    validate_objects,
)

__all__ = [
    "ADDONS",
    "ISTIO_SYSTEM",
    "MTLS_MODES",
    "NODE_PORTS",
    "SAMPLES",
    "SAMPLE_BUILDERS",
    "SECURITY_PRESETS",
    "TRAFFIC_PRESETS",
    "addons",
    "bookinfo",
    "bookinfo_gateway",
    "check_documents",
    "check_hosts",
    "check_name",
    "check_objects",
    "destination_rule",
    "destination_rules",
    "fortio",
    "httpbin",
    "load_documents",
    "namespace",
    "read_documents",
    "security_preset",
    "sleep",
    "supported_kinds",
    "to_yaml",
    "traffic_preset",
    "validate_objects",
]
