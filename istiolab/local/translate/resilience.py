"""VirtualService fault / timeout / retries / mirror -> Envoy route fields.

- ``fault`` -> ``typed_per_filter_config["envoy.filters.http.fault"]`` (HTTPFault): delay
  ``fixedDelay`` + ``percentage`` (or the deprecated integer ``percent``), abort
  ``httpStatus``/``grpcStatus`` + ``percentage``. The fault filter sits before the router.
- ``timeout`` -> route ``timeout`` (Istio's default: ``0s``, disabled).
- ``retries`` -> ``retry_policy``; when unset, Istio's default policy (2 retries on
  connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes with no
  status code listed, so 503 is not retried; previous_hosts predicate, 5 host selection
  attempts, 25 ms base back-off). ``attempts: 0`` disables retries.
- ``mirror``/``mirrors`` -> ``request_mirror_policies`` (Envoy adds ``-shadow`` to the Host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from istiolab.local.translate.common import duration, fraction, percentage_of

FAULT_FILTER = "envoy.filters.http.fault"
FAULT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {
        "@type": "type.googleapis.com/"
        "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
    },
}
PREVIOUS_PRIORITIES = {
    "name": "envoy.retry_priorities.previous_priorities",
    "typed_config": {
        "@type": "type.googleapis.com/"
        "envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
        "update_frequency": 2,
    },
}
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"


def fault(spec: Mapping | None) -> dict | None:
    """An Istio HTTPFaultInjection as an Envoy HTTPFault (per-route config)."""
    if not spec:
        return None
    out: dict = {"@type": FAULT_TYPE}
    delay = spec.get("delay")
    if delay:
        d: dict = {"fixed_delay": duration(delay.get("fixedDelay", "0s"))}
        pct = percentage_of(delay)
        d["percentage"] = fraction(100.0 if pct is None else pct)
        out["delay"] = d
    abort = spec.get("abort")
    if abort:
        a: dict = {}
        if abort.get("grpcStatus") is not None:
            a["grpc_status"] = _grpc_status(abort["grpcStatus"])
        else:
            a["http_status"] = int(abort.get("httpStatus", 503))
        pct = percentage_of(abort)
        a["percentage"] = fraction(100.0 if pct is None else pct)
        out["abort"] = a
    return out


_GRPC = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
    "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}  # fmt: skip


def _grpc_status(value: object) -> int:
    return int(value) if str(value).isdigit() else _GRPC[str(value).upper()]


def default_retry(mesh_default: Mapping | None = None) -> dict:
    if mesh_default:
        return retry_policy(mesh_default)
    return {
        "retry_on": DEFAULT_RETRY_ON,
        "num_retries": 2,
        "retry_host_predicate": [PREVIOUS_HOSTS],
        "host_selection_retry_max_attempts": "5",
        "retry_back_off": {"base_interval": "0.025s"},
    }


def retry_policy(spec: Mapping | None, mesh_default: Mapping | None = None) -> dict | None:
    """Istio HTTPRetry -> Envoy RetryPolicy (starting from Istio's default, as Istio does);
    None means retries are off (``attempts: 0``)."""
    if spec is None:
        return default_retry(mesh_default)
    attempts = int(spec.get("attempts", 0) or 0)
    if attempts <= 0:
        return None
    out = default_retry()
    out["num_retries"] = attempts
    retry_on = str(spec.get("retryOn") or "")
    if retry_on:
        codes = [p.strip() for p in retry_on.split(",") if p.strip()]
        statuses = [int(c) for c in codes if c.isdigit()]
        policies = [c for c in codes if not c.isdigit()]
        if statuses and "retriable-status-codes" not in policies:
            policies.append("retriable-status-codes")
        out["retry_on"] = ",".join(policies)
        if statuses:
            out["retriable_status_codes"] = statuses
    if spec.get("perTryTimeout") is not None:
        out["per_try_timeout"] = duration(spec["perTryTimeout"])
    if spec.get("retryRemoteLocalities"):
        out["retry_priority"] = PREVIOUS_PRIORITIES
    if spec.get("backoff") is not None:
        out["retry_back_off"] = {"base_interval": duration(spec["backoff"])}
    return out


def mirror_policies(route: Mapping, cluster_for: Callable[[Mapping], str]) -> list[dict]:
    """``mirror`` (+ ``mirrorPercentage``/``mirror_percent``) and ``mirrors`` entries."""
    entries: list[tuple[Mapping, float | None]] = []
    if route.get("mirror"):
        pct = None
        if isinstance(route.get("mirrorPercentage"), Mapping):
            pct = float(route["mirrorPercentage"].get("value", 100.0))
        elif route.get("mirrorPercent") is not None:
            pct = float(route["mirrorPercent"])
        elif route.get("mirror_percent") is not None:
            pct = float(route["mirror_percent"])
        entries.append((route["mirror"], pct))
    for m in route.get("mirrors") or []:
        pct = (m.get("percentage") or {}).get("value") if m.get("percentage") else None
        entries.append((m.get("destination") or {}, None if pct is None else float(pct)))
    out = []
    for dest, pct in entries:
        policy: dict = {"cluster": cluster_for(dest), "trace_sampled": False}
        policy["runtime_fraction"] = {"default_value": fraction(100.0 if pct is None else pct)}
        out.append(policy)
    return out
