"""VirtualService ``corsPolicy`` -> the CORS filter's per-route CorsPolicy (the filter sits
in every HCM chain, before fault and router, as in Istio)."""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.durations import seconds
from istiolab.local.translate.common import string_match

CORS_FILTER = "envoy.filters.http.cors"
CORS_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"
CORS_POLICY_TYPE = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy"
FILTER = {"name": CORS_FILTER, "typed_config": {"@type": CORS_TYPE}}


def cors_policy(spec: Mapping | None) -> dict | None:
    if not spec:
        return None
    out: dict = {"@type": CORS_POLICY_TYPE}
    origins = []
    for origin in spec.get("allowOrigins") or []:
        sm = string_match(origin) if isinstance(origin, Mapping) else {"exact": str(origin)}
        if sm:
            origins.append(sm)
    for origin in spec.get("allowOrigin") or []:  # deprecated list of exact origins
        origins.append({"exact": str(origin)})
    if origins:
        out["allow_origin_string_match"] = origins
    for field, key in (
        ("allowMethods", "allow_methods"),
        ("allowHeaders", "allow_headers"),
        ("exposeHeaders", "expose_headers"),
    ):
        if spec.get(field):
            out[key] = ",".join(str(v) for v in spec[field])
    if spec.get("maxAge") is not None:
        out["max_age"] = str(round(seconds(spec["maxAge"])))
    if spec.get("allowCredentials") is not None:
        out["allow_credentials"] = bool(spec["allowCredentials"])
    return out
