"""A tiny registry for named presets with typed keyword parameters.

`run(kind, presets, name, namespace, params)` checks the preset name and the parameter
names against the preset function's signature, so every mistake names the preset, the
parameter and what is allowed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from istiolab.errors import ParameterError
from istiolab.manifests._base import check_name

Preset = Callable[..., list[dict]]


def parameters(preset: Preset) -> dict[str, Any]:
    """A preset's parameters (without `namespace`) and their defaults."""
    return {
        name: p.default
        for name, p in inspect.signature(preset).parameters.items()
        if name != "namespace"
    }


def run(
    kind: str, presets: Mapping[str, Preset], name: str, namespace: str, params: dict[str, Any]
) -> list[dict]:
    if name not in presets:
        raise ParameterError(f"{kind}_preset", name, "one of " + ", ".join(presets))
    check_name("namespace", namespace)
    preset = presets[name]
    allowed = parameters(preset)
    for key, value in params.items():
        if key not in allowed:
            listed = ", ".join(allowed) or "(none)"
            raise ParameterError(key, value, f"{kind} preset {name!r} takes: {listed}")
    return preset(namespace=namespace, **params)
