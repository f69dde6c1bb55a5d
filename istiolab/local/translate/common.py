"""Small value conversions shared by the translation modules (Istio YAML -> Envoy JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from istiolab.durations import seconds

UINT32_MAX = 2**32 - 1


def duration(value: str | int | float) -> str:
    """An Istio duration as protobuf JSON (``"0.100s"``)."""
    s = seconds(value)
    text = f"{s:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def fraction(percent: float) -> dict:
    """A percentage (0-100, fractional allowed) as an Envoy FractionalPercent over a million."""
    return {"numerator": round(float(percent) * 10_000), "denominator": "MILLION"}


def percentage_of(obj: Mapping, new: str = "percentage", old: str = "percent") -> float | None:
    """Istio's ``percentage: {value: x}`` or the deprecated integer ``percent``."""
    if isinstance(obj.get(new), Mapping) and "value" in obj[new]:
        return float(obj[new]["value"])
    if obj.get(old) is not None:
        return float(obj[old])
    return None


def string_match(match: Mapping, *, ignore_case: bool = False) -> dict | None:
    """Istio StringMatch (exact/prefix/regex) -> Envoy StringMatcher."""
    out: dict
    if "exact" in match:
        out = {"exact": str(match["exact"])}
    elif "prefix" in match:
        out = {"prefix": str(match["prefix"])}
    elif "regex" in match:
        out = {"safe_regex": {"regex": str(match["regex"])}}
    else:
        return None
    if ignore_case and "safe_regex" not in out:
        out["ignore_case"] = True
    return out


def labels_match(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def meta(obj: Mapping) -> tuple[str, str]:
    """(name, namespace) of a Kubernetes object, namespace defaulting to ``default``."""
    md = obj.get("metadata") or {}
    return str(md.get("name", "")), str(md.get("namespace") or "default")


def of_kind(objects: Iterable[Mapping], kind: str) -> list[dict]:
    return [dict(o) for o in objects if o.get("kind") == kind]


def socket_address(address: str, port: int) -> dict:
    return {"socket_address": {"address": address, "port_value": int(port)}}
