"""Istio's API schema as a compact table, compiled from `cloudcoil.models.istio`.

Importing those pydantic models takes about a second (the package imports every API
version), too slow for a config store that validates on every write. So the models are
compiled once into a JSON table of plain type descriptors and shipped next to this module
(`istio_api.json`); tests recompile and compare, and a table made from another
cloudcoil version is recompiled in memory instead of being trusted.

Type descriptors: "str" | "int" | "float" | "bool" | "any" | {"list": T} | {"map": T} |
{"enum": [...]} | {"union": [T, ...]} | {"models": [model id, ...]} (a oneOf's variants).
A model is {"fields": {yaml name: [T, required, python name]}}.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

TABLE_PATH = Path(__file__).with_name("istio_api.json")
DISTRIBUTION = "cloudcoil.models.istio"

# (group, kind) -> (module under cloudcoil.models.istio, versions the kind is served at).
# The v1 models describe v1beta1/v1alpha3 too: their field sets are identical.
KINDS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    **{
        ("networking.istio.io", k): ("networking.v1", ("v1", "v1beta1", "v1alpha3"))
        for k in (
            "DestinationRule",
            "Gateway",
            "ServiceEntry",
            "Sidecar",
            "VirtualService",
            "WorkloadEntry",
            "WorkloadGroup",
        )
    },
    ("networking.istio.io", "EnvoyFilter"): ("networking.v1alpha3", ("v1alpha3",)),
    ("networking.istio.io", "ProxyConfig"): ("networking.v1beta1", ("v1beta1",)),
    **{
        ("security.istio.io", k): ("security.v1", ("v1", "v1beta1"))
        for k in ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication")
    },
    ("telemetry.istio.io", "Telemetry"): ("telemetry.v1", ("v1", "v1alpha1")),
    ("extensions.istio.io", "WasmPlugin"): ("extensions.v1alpha1", ("v1alpha1",)),
}


def installed_version() -> str:
    return importlib.metadata.version(DISTRIBUTION)


@cache
def table() -> dict:
    """The compiled table: the shipped one if it matches the installed models, else fresh."""
    try:
        shipped = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        shipped = None
    if shipped and shipped.get("source") == f"{DISTRIBUTION} {installed_version()}":
        return shipped
    return compile_table()


def compile_table() -> dict:
    """Compile the pydantic models into the table (imports them: about a second)."""
    import pydantic

    models: dict[str, dict] = {}

    def model_id(cls: type) -> str:
        ident = f"{cls.__module__.removeprefix('cloudcoil.')}.{cls.__name__}"
        if ident not in models:
            models[ident] = {}  # placeholder: recursive models refer to themselves
            models[ident] = {
                "fields": {
                    (info.alias or name): [describe(info.annotation), info.is_required(), name]
                    for name, info in sorted(cls.model_fields.items())
                }
            }
        return ident

    def is_model(t: Any) -> bool:
        return isinstance(t, type) and issubclass(t, pydantic.BaseModel)

    def describe(annotation: Any) -> Any:
        while typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        origin = typing.get_origin(annotation)
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                return describe(members[0])
            plain = [m for m in members if is_model(m) and not issubclass(m, pydantic.RootModel)]
            if len(plain) == len(members):
                return {"models": [model_id(m) for m in plain]}
            return {"union": [describe(m) for m in members]}
        if origin is list:
            (item,) = typing.get_args(annotation) or (Any,)
            return {"list": describe(item)}
        if origin is dict:
            args = typing.get_args(annotation)
            return {"map": describe(args[1]) if len(args) == 2 else "any"}
        if origin is Literal:
            return {"enum": list(typing.get_args(annotation))}
        if is_model(annotation):
            if issubclass(annotation, pydantic.RootModel):
                return describe(annotation.model_fields["root"].annotation)
            return {"models": [model_id(annotation)]}
        return {str: "str", int: "int", float: "float", bool: "bool"}.get(annotation, "any")

    kinds: dict[str, dict] = {}
    for (group, kind), (module_name, _) in sorted(KINDS.items()):
        module = importlib.import_module(f"cloudcoil.models.istio.{module_name}")
        fields = getattr(module, kind).model_fields
        kinds[f"{group}/{kind}"] = {
            "metadata": describe(fields["metadata"].annotation),
            "spec": describe(fields["spec"].annotation),
            "spec_required": fields["spec"].is_required(),
        }
    return {
        "source": f"{DISTRIBUTION} {installed_version()}",
        "kinds": kinds,
        "models": dict(sorted(models.items())),
    }


def write_table(path: Path = TABLE_PATH) -> None:
    """Regenerate the shipped table (run after bumping cloudcoil.models.istio):
    python -m istiolab.manifests.validation.istio_api"""
    path.write_text(
        json.dumps(compile_table(), indent=None, sort_keys=True) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    write_table()
    print(f"wrote {TABLE_PATH}")
