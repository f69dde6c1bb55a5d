"""Small helpers every builder shares: object skeletons and parameter checks.

Builders return plain dicts whose key order is the order a person writes them in
(apiVersion, kind, metadata, spec), so rendered YAML reads naturally and is byte-stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from istiolab.durations import is_duration
from istiolab.errors import ParameterError
from istiolab.names import ISTIO_SYSTEM  # noqa: F401 - re-exported to the builders

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def obj(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    spec: Any = None,
    **top: Any,
) -> dict:
    """A Kubernetes object skeleton: apiVersion, kind, metadata, then spec (or other fields)."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if spec is not None:
        out["spec"] = spec
    out.update(top)
    return out


def deployment(
    name: str, namespace: str, labels: Mapping[str, str], pod_meta: dict, pod_spec: dict
) -> dict:
    """A one-replica apps/v1 Deployment selecting `labels`, its pod template `pod_meta` and
    `pod_spec` as given (their key order is the caller's)."""
    return obj(
        "apps/v1",
        "Deployment",
        name,
        namespace,
        labels=labels,
        spec={
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": pod_meta, "spec": pod_spec},
        },
    )


def check_name(parameter: str, value: object) -> str:
    """A DNS-1123 label (namespace, service and version names)."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise ParameterError(
            parameter,
            value,
            "a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters, "
            "starting and ending with a letter or digit",
        )
    return value


def check_choice(parameter: str, value: object, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ParameterError(parameter, value, "one of " + ", ".join(allowed))
    return value  # type: ignore[return-value]


def check_int(
    parameter: str, value: object, *, minimum: int = 0, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(parameter, value, _range_text(minimum, maximum, "an integer"))
    if value < minimum or (maximum is not None and value > maximum):
        raise ParameterError(parameter, value, _range_text(minimum, maximum, "an integer"))
    return value


def check_percent(parameter: str, value: object) -> float:
    """A percentage 0..100 (int or float), as Istio's `percentage.value`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ParameterError(parameter, value, "a number from 0 to 100 (a percentage)")
    return value


def check_duration(parameter: str, value: object) -> str:
    """A protobuf-style duration such as '5s', '100ms', '1m30s' (non-negative)."""
    if not is_duration(value):
        raise ParameterError(
            parameter, value, "a duration such as '500ms', '5s', '3m' or '1h' (units h m s ms)"
        )
    return value


def check_weights(parameter: str, weights: object, count: int | None = None) -> tuple[int, ...]:
    """Route weights: non-negative integers that sum to exactly 100."""
    if isinstance(weights, str | bytes) or not isinstance(weights, Iterable):
        raise ParameterError(parameter, weights, "a sequence of integer weights summing to 100")
    values = tuple(weights)
    if count is not None and len(values) != count:
        raise ParameterError(parameter, values, f"exactly {count} integer weights summing to 100")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ParameterError(parameter, values, "non-negative integer weights summing to 100")
    if sum(values) != 100:
        raise ParameterError(
            parameter, values, f"weights must sum to 100 (these sum to {sum(values)})"
        )
    return values


def _range_text(minimum: int, maximum: int | None, what: str) -> str:
    if maximum is None:
        return f"{what} >= {minimum}"
    return f"{what} from {minimum} to {maximum}"
