"""What Envoy or the Kubernetes API server would reject although the schema allows it:
checked at apply so that such config never reaches the store (a proxy NACKing it would
keep its last good config while `apply` said "configured").

- regular expressions in Istio string matches are RE2 (Envoy's ``safe_regex``): checked
  with Google's RE2 itself (the ``google-re2`` package), so ``(`` or a look-ahead is refused;
- an inline JWKS (``RequestAuthentication.spec.jwtRules[].jwks``) is a JSON object with a
  ``keys`` list of objects, as Envoy's jwt_authn parses it;
- ports the sidecar owns on the pod IP cannot be a workload Service's targetPort or a
  container port (:func:`reserved_ports`; the local mesh's store checks it, since a
  gateway's own Service rightly targets its status port 15021);
- ``replicas`` is not negative; a Secret's ``data`` values are base64;
- an object is at most 1.5 MiB (the API server's request size limit, etcd's value limit).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from istiolab.manifests.validation._util import Problem, short

# Istio's reserved sidecar ports (15000 admin, 15001 outbound, 15004, 15006 inbound, 15008
# HBONE, 15009, 15020 merged metrics, 15021 health, 15053 DNS, 15090 Prometheus)
RESERVED_PORTS = frozenset({15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090})
MAX_OBJECT_BYTES = 1_572_864  # 1.5 MiB

_re2_options: Any = None


def re2_problem(pattern: Any) -> str:
    """Why `pattern` is not an RE2 expression Envoy accepts ("" when it is)."""
    global _re2_options
    if not isinstance(pattern, str):
        return f"{short(pattern)} is not a string"
    import re2  # google-re2

    if _re2_options is None:
        options = re2.Options()
        options.log_errors = False
        _re2_options = options
    try:
        re2.compile(pattern, _re2_options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        return f"{short(pattern)} is not a valid RE2 regular expression ({reason})"
    return ""


def regex(value: Any, path: str, out: list[Problem]) -> None:
    problem = re2_problem(value)
    if problem:
        out.append(Problem(path, problem, "Envoy uses RE2: no look-arounds or back-references"))


def jwks(value: Any, path: str, out: list[Problem]) -> None:
    hint = 'a JSON Web Key Set: {"keys": [{"kty": "RSA", "n": "...", "e": "AQAB", ...}]}'
    if not isinstance(value, str):
        out.append(Problem(path, f"{short(value)} is not a string", hint))
        return
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        out.append(Problem(path, f"is not JSON ({exc})", hint))
        return
    keys = parsed.get("keys") if isinstance(parsed, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        out.append(Problem(path, "has no 'keys' list of JSON Web Keys", hint))
    elif any(not isinstance(k.get("kty"), str) for k in keys):
        out.append(Problem(path, "a key has no 'kty' (key type)", hint))


def reserved_ports(doc: Any) -> list[Problem]:
    """A workload Service's targetPorts and a Deployment's container ports that the sidecar
    owns (gateways, labelled or selecting ``istio: *gateway``, are exempt)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("spec"), dict):
        return []
    spec, out = doc["spec"], []
    if doc.get("kind") == "Service":
        selector = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
        if str(selector.get("istio", "")).endswith("gateway"):
            return []
        for i, port in enumerate(spec.get("ports") or []):
            if isinstance(port, dict):
                target = port.get("targetPort", port.get("port"))
                reserved_port(target, f"spec.ports[{i}].targetPort", out)
    elif doc.get("kind") == "Deployment":
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if isinstance(labels, dict) and str(labels.get("istio", "")).endswith("gateway"):
            return []
        pod = template.get("spec") if isinstance(template.get("spec"), dict) else {}
        for i, c in enumerate(pod.get("containers") or []):
            for j, port in enumerate((c.get("ports") or []) if isinstance(c, dict) else []):
                if isinstance(port, dict):
                    path = f"spec.template.spec.containers[{i}].ports[{j}].containerPort"
                    reserved_port(port.get("containerPort"), path, out)
    return out


def reserved_port(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value in RESERVED_PORTS:
        out.append(
            Problem(
                path,
                f"{value} is a port the Istio sidecar uses on the pod IP",
                "pick a port outside " + ", ".join(str(p) for p in sorted(RESERVED_PORTS)),
            )
        )


def replicas(value: Any, path: str, out: list[Problem]) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        out.append(Problem(path, f"{value} is negative", "0 or more"))


def secret_data(data: Any, path: str, out: list[Problem]) -> None:
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        try:
            if not isinstance(value, str):
                raise ValueError
            base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error):
            out.append(
                Problem(
                    f"{path}.{key}",
                    "is not base64",
                    "encode the value (base64 -w0) or put the plain text under stringData",
                )
            )


def size(doc: Any) -> list[Problem]:
    try:
        n = len(json.dumps(doc, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        return []
    if n > MAX_OBJECT_BYTES:
        return [
            Problem(
                "",
                f"the object is {n} bytes, over the API server's limit of {MAX_OBJECT_BYTES}",
                "split it into smaller objects",
            )
        ]
    return []
