"""Kubernetes objects against the OpenAPI-derived JSON schemas that `kubernetes-validate`
ships (strict variant: unknown fields are errors), for KUBERNETES_SCHEMA_VERSION. Offline.

One validator per kind is built on first use and cached, so validating many objects
costs one JSON-schema pass each.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from packaging.version import Version

from istiolab import versions
from istiolab.manifests.validation._util import Problem, did_you_mean, join, short, type_name

_DEFS_ID = "https://kubernetes.io/api/_definitions.json"


@cache
def schema_version() -> str:
    """The newest bundled schema version that is not newer than the pinned one."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    wanted = Version(versions.KUBERNETES_SCHEMA_VERSION)
    found = []
    for entry in root.iterdir():
        m = re.match(r"^v(\d+\.\d+)\.\d+-local-strict$", entry.name)
        if m and Version(m.group(1)) <= wanted:
            found.append(entry.name)
    if not found:
        wanted_text = versions.KUBERNETES_SCHEMA_VERSION
        raise RuntimeError(f"kubernetes-validate has no schemas for Kubernetes {wanted_text}")
    return max(found, key=lambda n: Version(n[1:].split("-")[0]))


@cache
def _definitions() -> dict:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    with root.joinpath(schema_version(), "_definitions.json").open(encoding="utf-8") as f:
        return json.load(f)


@cache
def _kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> definition name, for every top-level Kubernetes kind."""
    out: dict[tuple[str, str], str] = {}
    for name, schema in _definitions()["$defs"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk["group"], gvk["version"], gvk["kind"]
            if kind.endswith("List") or kind in {"Status", "WatchEvent", "DeleteOptions"}:
                continue
            api_version = f"{group}/{version}" if group else version
            out.setdefault((api_version, kind), name)
    return out


def kinds() -> dict[tuple[str, str], str]:
    return _kinds()


def is_kubernetes(api_version: str, kind: str) -> bool:
    return (api_version, kind) in _kinds()


@cache
def _validator(definition: str) -> Any:
    defs = _definitions()
    registry = referencing.Registry().with_resource(
        _DEFS_ID, referencing.Resource.from_contents(defs)
    )
    schema = {"$ref": f"{_DEFS_ID}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def check(doc: dict) -> list[Problem]:
    """Schema problems of one Kubernetes object (its apiVersion/kind must be known)."""
    definition = _kinds()[(doc["apiVersion"], doc["kind"])]
    problems: list[Problem] = []
    for error in _validator(definition).iter_errors(doc):
        problems += _convert(error)
    return sorted(set(problems))


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path = join(path, part)
    return path


def _convert(error: jsonschema.ValidationError) -> list[Problem]:
    path = _path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        return [
            Problem(
                join(path, key), f'unknown field "{key}"', did_you_mean(key, known, list_max=12)
            )
            for key in error.instance
            if key not in known
        ]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [Problem(join(path, k), "required field is missing") for k in missing]
    if error.validator == "type":
        wanted = error.validator_value
        wanted = [w for w in (wanted if isinstance(wanted, list) else [wanted]) if w != "null"]
        return [
            Problem(
                path,
                f"{short(error.instance)} is {type_name(error.instance)}, expected "
                + " or ".join(wanted),
            )
        ]
    if error.validator in ("oneOf", "anyOf"):
        types = []
        for sub in error.validator_value:
            t = sub.get("type") if isinstance(sub, dict) else None
            types += [x for x in (t if isinstance(t, list) else [t]) if x and x != "null"]
        if types:
            return [
                Problem(
                    path,
                    f"{short(error.instance)} is {type_name(error.instance)}, expected "
                    + " or ".join(dict.fromkeys(types)),
                )
            ]
    if error.validator == "enum":
        return [
            Problem(
                path,
                f"{short(error.instance)} is not allowed",
                "allowed: " + ", ".join(str(v) for v in error.validator_value if v is not None),
            )
        ]
    return [Problem(path, error.message)]
