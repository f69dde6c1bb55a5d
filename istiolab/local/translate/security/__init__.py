"""The security layer of translation: workload mTLS, PeerAuthentication,
AuthorizationPolicy (RBAC) and RequestAuthentication (jwt_authn). Pure functions over the
dicts the rest of translation builds:

- :func:`auto_mtls` (tls.py) puts the Istio mTLS socket on outbound clusters;
- :func:`secure` rewrites one proxy's listeners: a sidecar's inbound listeners get their
  PeerAuthentication filter chains, the client-certificate header (XFCC) and the jwt_authn
  and RBAC filters (TCP ports: the network RBAC filter, with Istio's TCP semantics); the
  gateway's HCMs get jwt_authn and RBAC; it also returns the extra clusters remote JWKS
  need and the filters' configs. The HTTP filters are always there and
  get their config over ECDS (``istio.jwt_authn``, ``istio.rbac.audit|deny|allow``, no-ops
  without policies): a policy change reaches the next request on every open connection,
  with no listener update (whose old filter chains would keep serving pooled connections);
- :func:`check_objects` refuses at apply time what the local mesh cannot enforce (CUSTOM
  authorization, a jwksUri off loopback, an unknown condition key), naming the field.

The certificates themselves (SDS secrets ``default`` and ``ROOTCA``) come from
:mod:`istiolab.local.pki` (``build_resources(..., ca=...)``).
"""

from __future__ import annotations

import copy

from istiolab.errors import ConfigError, Finding, ValidationError
from istiolab.local.model import EXTENSION_TYPE, ISTIO_SYSTEM
from istiolab.local.pki import CACERTS, plugin_authority
from istiolab.local.translate.context import Context
from istiolab.local.translate.security import jwt as _jwt
from istiolab.local.translate.security import rbac as _rbac
from istiolab.local.translate.security.tls import auto_mtls, peer_mode, secure_inbound

__all__ = ["auto_mtls", "check_objects", "filter_configs", "secure"]

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
ADS = {"ads": {}, "resource_api_version": "V3"}
JWT_NAME = "istio.jwt_authn"
RBAC_PREFIX = "istio.rbac."
XFCC = {
    "forward_client_cert_details": "APPEND_FORWARD",
    "set_current_client_cert_details": {"subject": True, "dns": True, "uri": True},
}


def filter_configs(ctx: Context) -> tuple[dict[str, dict], dict[str, dict]]:
    """(ECDS filter configs by name, clusters they need) for one proxy: jwt_authn, then
    the RBAC filters AUDIT, DENY, ALLOW (each a no-op when no policy asks for it)."""
    ras = _rbac.selected(ctx.index.of_kind("RequestAuthentication"), ctx.proxy)
    aps = _rbac.selected(ctx.index.of_kind("AuthorizationPolicy"), ctx.proxy)
    jwt, clusters = _jwt.jwt_config(ras)
    configs = {JWT_NAME: jwt}
    for action, config in _rbac.rbac_configs(aps).items():
        configs[f"{RBAC_PREFIX}{action}"] = config
    return configs, clusters


def extension(name: str, config: dict) -> dict:
    return {"@type": EXTENSION_TYPE, "name": name, "typed_config": config}


def discovered(name: str, type_url: str) -> dict:
    """An HTTP filter whose config comes over ECDS (ADS) by ``name``."""
    return {
        "name": name,
        "config_discovery": {"config_source": ADS, "type_urls": [type_url]},
    }


def _patch_hcms(listener: dict, filters: list[dict], extra: dict | None = None) -> dict:
    out = copy.deepcopy(listener)
    for chain in out.get("filter_chains") or []:
        for f in chain.get("filters") or []:
            if f.get("name") != HCM:
                continue
            config = f["typed_config"]
            config["http_filters"] = [*copy.deepcopy(filters), *config["http_filters"]]
            config.update(copy.deepcopy(extra or {}))
    return out


def _patch_tcp(listener: dict, filters: list[dict]) -> dict:
    """Network RBAC before the tcp_proxy of a TCP port's chains (checked per connection)."""
    if not filters:
        return listener
    for chain in listener.get("filter_chains") or []:
        if any(f.get("name") == TCP_PROXY for f in chain.get("filters") or []):
            chain["filters"] = [*copy.deepcopy(filters), *chain["filters"]]
    return listener


def secure(
    ctx: Context, listeners: dict[str, dict]
) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(listeners with the security layer applied, extra clusters, ECDS configs)."""
    configs, clusters = filter_configs(ctx)
    extensions = {name: extension(name, config) for name, config in configs.items()}
    filters = [
        discovered(name, _jwt.JWT_TYPE if name == JWT_NAME else _rbac.RBAC_TYPE) for name in configs
    ]
    out: dict[str, dict] = {}
    if ctx.proxy.type == "router":
        for name, listener in listeners.items():
            out[name] = _patch_hcms(listener, filters)
        return out, clusters, extensions
    pas = ctx.index.of_kind("PeerAuthentication")
    aps = _rbac.selected(ctx.index.of_kind("AuthorizationPolicy"), ctx.proxy)
    for name, listener in listeners.items():
        if listener.get("traffic_direction") != "INBOUND":
            out[name] = listener
            continue
        port = int(listener["address"]["socket_address"]["port_value"])
        patched = _patch_hcms(listener, filters, XFCC)
        patched = _patch_tcp(patched, _rbac.network_rbac_filters(aps, f"tcp.inbound_{port}."))
        out[name] = secure_inbound(patched, peer_mode(pas, ctx.proxy.pod, port))
    return out, clusters, extensions


def obj_ns(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def check_objects(batch: list[dict], source: str) -> None:
    """Refuse what the local mesh cannot enforce; nothing of ``batch`` is applied then."""
    problems: list[Finding] = []
    for i, obj in enumerate(batch):
        kind = str(obj.get("kind", ""))
        name = str((obj.get("metadata") or {}).get("name", "?"))
        spec = obj.get("spec") or {}
        if kind == "AuthorizationPolicy":
            action = str(spec.get("action") or "ALLOW")
            if action == "CUSTOM":
                problems.append(
                    Finding(
                        source,
                        i,
                        kind,
                        name,
                        "spec.action",
                        "CUSTOM is not supported locally (it needs an external authorizer "
                        "declared in meshConfig.extensionProviders)",
                        "use ALLOW, DENY or AUDIT",
                    )
                )
            for r, rule in enumerate(spec.get("rules") or []):
                for c, cond in enumerate((rule or {}).get("when") or []):
                    key = str((cond or {}).get("key", ""))
                    try:
                        _rbac.condition(key, ["x"])
                    except ValueError:
                        problems.append(
                            Finding(
                                source,
                                i,
                                kind,
                                name,
                                f"spec.rules[{r}].when[{c}].key",
                                f"{key!r} is not a condition key the local mesh supports",
                                "one of " + ", ".join(_rbac.CONDITION_KEYS),
                            )
                        )
        elif kind == "Secret" and name == CACERTS and obj_ns(obj) == ISTIO_SYSTEM:
            try:
                plugin_authority(obj)
            except ConfigError as exc:
                problems.append(Finding(source, i, kind, name, "data", str(exc)))
        elif kind == "RequestAuthentication":
            for r, rule in enumerate(spec.get("jwtRules") or []):
                rule = rule or {}
                where = f"spec.jwtRules[{r}]"
                if rule.get("jwks"):
                    continue
                uri = rule.get("jwksUri")
                if not uri:
                    problems.append(
                        Finding(
                            source,
                            i,
                            kind,
                            name,
                            where,
                            "needs jwks or jwksUri locally (no OpenID discovery of the issuer)",
                            "print a JWK set with `istiolab jwt jwks`",
                        )
                    )
    if problems:
        raise ValidationError(problems)
