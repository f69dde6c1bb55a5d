"""Istio objects against Istio's API schema (the models of `cloudcoil.models.istio`,
compiled into a table by istio_api.py).

Those models accept (and drop) unknown fields, and a oneOf appears as a union of variant
models, so this module walks the object alongside the type descriptors itself: every key
must be a field of the model (or of one variant of the union), values must have the
described type (string, integer, number, boolean, enum, list, map, nested object), and
required fields must be present.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from istiolab.manifests.validation._util import Problem, did_you_mean, join, short, type_name
from istiolab.manifests.validation.istio_api import KINDS, table

GROUPS: tuple[str, ...] = tuple(sorted({g for g, _ in KINDS}))
TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")


def is_istio_group(api_version: str) -> bool:
    return api_version.split("/", 1)[0] in GROUPS


def kinds() -> list[str]:
    return sorted({kind for _, kind in KINDS})


def api_problem(api_version: str, kind: str) -> Problem | None:
    """Why (apiVersion, kind) is not an Istio type we know, or None if it is."""
    group, _, version = api_version.partition("/")
    entry = KINDS.get((group, kind))
    if entry is None:
        group_kinds = sorted(k for g, k in KINDS if g == group)
        close = did_you_mean(kind, group_kinds)
        listed = f"supported kinds of {group}: " + ", ".join(group_kinds)
        return Problem(
            "kind",
            f"unknown kind {kind!r} for apiVersion {api_version}",
            f"{close} {listed}" if close else listed,
        )
    if version not in entry[1]:
        served = ", ".join(f"{group}/{v}" for v in entry[1])
        return Problem(
            "apiVersion", f"{kind} is not served at {api_version}", f"use one of: {served}"
        )
    return None


def check(doc: dict) -> list[Problem]:
    """Schema problems of one Istio object whose apiVersion/kind passed `api_problem`."""
    group = doc["apiVersion"].split("/", 1)[0]
    entry = table()["kinds"][f"{group}/{doc['kind']}"]
    problems: list[Problem] = []
    for key, value in doc.items():
        if key not in TOP_LEVEL:
            hint = did_you_mean(key, TOP_LEVEL, list_max=5)
            problems.append(Problem(key, f'unknown field "{key}"', hint))
        elif key in ("metadata", "spec"):
            _walk(value, entry[key], key, problems)
    if doc.get("spec") is None:
        problems.append(Problem("spec", "required field is missing"))
    return problems


# --- the walker -----------------------------------------------------------------------


def _fields(model: str) -> dict[str, list]:
    return table()["models"][model]["fields"]


# Deprecated fields that Istio's current schema no longer lists but that configs written for
# older releases still carry (seed 004's `abort: {httpStatus: 500, percent: 100}`): accepted
# and translated like their replacement; `istiolab analyze` reports them (ISTL0002).
DEPRECATED_FIELDS: dict[str, dict[str, Any]] = {"Abort": {"percent": "int"}}


def _model_base(model: str) -> str:
    """``models.istio.networking.v1.AbortModel1`` -> ``Abort``."""
    return model.rsplit(".", 1)[-1].rstrip("0123456789").removesuffix("Model")


@cache
def _union_fields(models: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in models:
        for alias, (descriptor, _, _) in _fields(m).items():
            out.setdefault(alias, descriptor)
        for alias, descriptor in DEPRECATED_FIELDS.get(_model_base(m), {}).items():
            out.setdefault(alias, descriptor)
    return out


_SCALARS = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
    "bool": (lambda v: isinstance(v, bool), "a boolean"),
}


def _walk(value: Any, descriptor: Any, path: str, out: list[Problem]) -> None:
    if value is None or descriptor == "any":
        return  # null means "unset"; required fields are checked by the parent object
    if isinstance(descriptor, str):
        test, wanted = _SCALARS[descriptor]
        if not test(value):
            out.append(Problem(path, f"{short(value)} is {type_name(value)}, expected {wanted}"))
        return
    if "models" in descriptor:
        _walk_models(value, tuple(descriptor["models"]), path, out)
    elif "list" in descriptor:
        if not isinstance(value, list):
            out.append(Problem(path, f"{short(value)} is {type_name(value)}, expected a list"))
            return
        for i, item in enumerate(value):
            _walk(item, descriptor["list"], join(path, i), out)
    elif "map" in descriptor:
        if not isinstance(value, dict):
            out.append(Problem(path, f"{short(value)} is {type_name(value)}, expected a mapping"))
            return
        for k, item in value.items():
            if not isinstance(k, str):
                out.append(Problem(path, f"key {short(k)} is {type_name(k)}, expected a string"))
            _walk(item, descriptor["map"], join(path, k), out)
    elif "enum" in descriptor:
        allowed = descriptor["enum"]
        if value not in allowed:
            close = did_you_mean(str(value), [str(a) for a in allowed])
            listed = "allowed: " + ", ".join(str(a) for a in allowed)
            out.append(Problem(path, f"{short(value)} is not allowed", f"{close} {listed}".strip()))
    elif "union" in descriptor:
        for member in descriptor["union"]:
            trial: list[Problem] = []
            _walk(value, member, path, trial)
            if not trial:
                return
        wanted = " or ".join(_describe(m) for m in descriptor["union"])
        out.append(Problem(path, f"{short(value)} is {type_name(value)}, expected {wanted}"))


def _describe(descriptor: Any) -> str:
    if isinstance(descriptor, str):
        return _SCALARS[descriptor][1] if descriptor in _SCALARS else "anything"
    return next(iter(descriptor)).replace("models", "a mapping")


def _walk_models(value: Any, models: tuple[str, ...], path: str, out: list[Problem]) -> None:
    if not isinstance(value, dict):
        out.append(Problem(path, f"{short(value)} is {type_name(value)}, expected a mapping"))
        return
    known = _union_fields(models)
    for key, item in value.items():
        descriptor = known.get(key)
        if descriptor is None:
            out.append(
                Problem(join(path, key), f'unknown field "{key}"', _unknown_hint(key, models))
            )
        else:
            _walk(item, descriptor, join(path, key), out)
    # required fields: one variant of a union must have all of its required fields
    missing = [
        [
            alias
            for alias, (_, required, _) in _fields(m).items()
            if required and value.get(alias) is None
        ]
        for m in models
    ]
    if missing and all(missing):
        if len(models) == 1:
            out += [Problem(join(path, a), "required field is missing") for a in missing[0]]
        else:
            options = sorted({a for fields in missing for a in fields})
            out.append(Problem(path, "needs one of the fields: " + ", ".join(options)))


def _unknown_hint(key: str, models: tuple[str, ...]) -> str:
    for m in models:
        for alias, (_, _, name) in _fields(m).items():
            if key == name and alias != name:
                return f"did you mean {alias}?"  # the Python name instead of the YAML one
    return did_you_mean(key, _union_fields(models), list_max=12)
