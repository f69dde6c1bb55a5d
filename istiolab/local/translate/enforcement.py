"""What the local mesh stores but could not enforce: refused at apply with a one-line
reason (nothing of the batch is applied), or, where Istio itself would accept the object and
its effect is optional, accepted with a warning that ``apply`` prints and ``analyze``
reports (ISTL0101)."""

from __future__ import annotations

from collections.abc import Mapping

from istiolab.errors import Finding, ValidationError
from istiolab.local.translate.envoyfilter import unsupported_patches

# kind -> (apiVersion group, why the local mesh refuses it, what to use instead)
REFUSED: dict[str, tuple[str, str, str]] = {
    "WorkloadEntry": (
        "networking.istio.io",
        "the local mesh has no VMs or external workloads that could join it",
        "describe the external endpoint with a ServiceEntry (spec.endpoints)",
    ),
    "WorkloadGroup": (
        "networking.istio.io",
        "the local mesh has no VMs that could register with a WorkloadGroup",
        "describe the external endpoints with a ServiceEntry (spec.endpoints)",
    ),
    "WasmPlugin": (
        "extensions.istio.io",
        "the local mesh cannot fetch Wasm plugin images and runs no Istio Wasm extensions",
        "use an EnvoyFilter adding a Lua or local rate limit HTTP filter",
    ),
    "Ingress": (
        "networking.k8s.io",
        "the local mesh runs no Kubernetes Ingress controller (ingress class istio)",
        "write the route as a Gateway API Gateway + HTTPRoute or an Istio Gateway + VirtualService",
    ),
}
# kind -> warning: stored, Istio accepts it, the local mesh does not act on it
IGNORED: dict[str, str] = {
    "ProxyConfig": (
        "ProxyConfig is stored but the local mesh's proxies ignore it (concurrency, image and "
        "environment are fixed by the runtime)"
    ),
}


def _group(obj: Mapping) -> str:
    return str(obj.get("apiVersion", "")).split("/", 1)[0]


def problems(obj: Mapping) -> list[tuple[str, str, str]]:
    """(field path, message, hint) for each part of ``obj`` the local mesh would ignore."""
    kind = str(obj.get("kind", ""))
    refused = REFUSED.get(kind)
    if refused and _group(obj) == refused[0]:
        return [("kind", f"{kind} is not supported by the local mesh: {refused[1]}", refused[2])]
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    out = []
    if kind == "Gateway" and _group(obj) == "networking.istio.io":
        for i, server in enumerate(spec.get("servers") or []):
            tls = server.get("tls") or {}
            files = [k for k in ("serverCertificate", "privateKey", "caCertificates") if tls.get(k)]
            if files and not tls.get("credentialName"):
                out.append(
                    (
                        f"spec.servers[{i}].tls.{files[0]}",
                        "file-mounted gateway certificates are not mounted into the local "
                        "gateway, so this server would never serve",
                        "put the certificate in a kubernetes.io/tls Secret in istio-system and "
                        "name it in tls.credentialName",
                    )
                )
    if kind == "EnvoyFilter":
        for path, reason in unsupported_patches(obj):
            out.append(
                (
                    path,
                    f"{reason} by the local mesh",
                    "supported: applyTo HTTP_FILTER with INSERT_BEFORE, INSERT_AFTER, "
                    "INSERT_FIRST or ADD (the local rate limit and Lua examples)",
                )
            )
    return out


def check_enforceable(batch: list[dict], source: str) -> list[str]:
    """Raise ValidationError for what the local mesh would ignore; the warnings (kubectl's
    ``Warning: ...`` lines) for what Istio accepts and the local mesh does not act on."""
    findings = []
    warnings = []
    for i, obj in enumerate(batch):
        kind = str(obj.get("kind", ""))
        name = str((obj.get("metadata") or {}).get("name", "?"))
        for path, message, hint in problems(obj):
            findings.append(Finding(source, i, kind, name, path, message, hint))
        if kind in IGNORED:
            warnings.append(f"Warning: {kind}/{name}: {IGNORED[kind]}")
    if findings:
        raise ValidationError(findings)
    return warnings


def ignored_findings(objects: list[dict]) -> list[tuple[str, str, str, str, str, str]]:
    """(level, code, kind, name, namespace, message): ISTL0101 per stored object the local
    mesh does not act on."""
    out = []
    for obj in objects:
        kind = str(obj.get("kind", ""))
        if kind in IGNORED:
            md = obj.get("metadata") or {}
            name, ns = str(md.get("name", "")), str(md.get("namespace") or "default")
            out.append(("Warning", "ISTL0101", kind, name, ns, IGNORED[kind]))
    return out
