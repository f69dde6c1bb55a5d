"""Strict validation of Kubernetes and Istio objects, shared by builders, `render`,
`validate` and the local mesh's config store.

Every object gets: the common checks (apiVersion, kind, metadata.name), then the
Kubernetes JSON schema (kube.py) or Istio's API schema (istio.py) with unknown fields
reported, then, for Istio objects, the webhook's semantic checks (semantic.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from istiolab.errors import Finding, ValidationError
from istiolab.manifests.validation import envoy_limits, gatewayapi, istio, kube, semantic
from istiolab.manifests.validation._util import Problem, did_you_mean
from istiolab.manifests.validation.removed import removed_problem

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def supported_kinds() -> list[str]:
    """Every kind `validate` knows: Istio's and the Kubernetes built-ins."""
    return sorted(set(istio.kinds()) | set(gatewayapi.kinds()) | {k for _, k in kube.kinds()})


def check_object(doc: Any) -> tuple[str, str, list[Problem]]:
    """(kind, name, problems) of one object."""
    if not isinstance(doc, dict):
        return "?", "?", [Problem("", f"not a Kubernetes object but a {type(doc).__name__}")]
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else "?"
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else "?"
    problems = _common(doc) + envoy_limits.size(doc)
    if problems:
        return kind, name, problems
    api_version = doc["apiVersion"]
    removed = removed_problem(api_version, kind)
    if removed:
        return kind, name, [removed]
    if istio.is_istio_group(api_version):
        problem = istio.api_problem(api_version, kind)
        if problem:
            return kind, name, [problem]
        problems = istio.check(doc)
        flagged = {p.path for p in problems}
        return kind, name, problems + [p for p in semantic.check(doc) if p.path not in flagged]
    if gatewayapi.is_gateway_api(api_version):
        return kind, name, gatewayapi.check(doc)
    if kube.is_kubernetes(api_version, kind):
        problems = kube.check(doc)
        flagged = {p.path for p in problems}
        return kind, name, problems + [p for p in semantic.check_kube(doc) if p.path not in flagged]
    return kind, name, [_unknown_kind(api_version, kind)]


def _common(doc: dict) -> list[Problem]:
    out = []
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            out.append(Problem(key, "required field is missing (a string)"))
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        out.append(Problem("metadata", "required field is missing (a mapping with name)"))
        return out
    name = metadata.get("name")
    if name is None and not metadata.get("generateName"):
        out.append(Problem("metadata.name", "required field is missing"))
    elif name is not None and (
        not isinstance(name, str) or len(name) > 253 or not _SUBDOMAIN.match(name)
    ):
        out.append(
            Problem(
                "metadata.name",
                f"{name!r} is not a valid name",
                "lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit",
            )
        )
    namespace = metadata.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not _LABEL.match(namespace)):
        out.append(
            Problem(
                "metadata.namespace",
                f"{namespace!r} is not a valid namespace",
                "a DNS-1123 label: lower-case letters, digits and '-'",
            )
        )
    return out


def _unknown_kind(api_version: str, kind: str) -> Problem:
    message = f"unknown apiVersion/kind {api_version}/{kind}"
    served_at = sorted({a for a, k in kube.kinds() if k == kind})
    if served_at:
        return Problem("kind", message, f"{kind} is served at apiVersion {', '.join(served_at)}")
    same_api = sorted(k for a, k in kube.kinds() if a == api_version)
    candidates = same_api or supported_kinds()
    listed = (f"kinds of {api_version}: " if same_api else "supported kinds: ") + ", ".join(
        candidates
    )
    hint = did_you_mean(kind, candidates)
    return Problem("kind", message, f"{hint} {listed}" if hint else listed)


def check_documents(docs: Iterable[tuple[str, int, Any]]) -> list[Finding]:
    """Findings for (source, index, object) triples, in input order."""
    findings: list[Finding] = []
    for source, index, doc in docs:
        kind, name, problems = check_object(doc)
        findings += [
            Finding(source, index, kind, name, p.path, p.message, p.hint) for p in problems
        ]
    return findings


def check_objects(objects: Iterable[Any], source: str = "<builder>") -> list[Finding]:
    return check_documents((source, i, o) for i, o in enumerate(objects))


def validate_objects(objects: Iterable[Any], source: str = "<builder>") -> None:
    """Raise ValidationError listing every finding if any object is invalid."""
    findings = check_objects(objects, source)
    if findings:
        raise ValidationError(findings)
