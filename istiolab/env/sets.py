"""`--set key=value`: the command-line syntax of the environment spec.

A key is a spec path as stack files write it under `istiolab:` (`apps.samples`,
`security.mtls`, `addons.nodePorts`), or a field's short alias (`samples`, `mtls`,
`node_ports`, ...); preset parameters are `traffic.<parameter>` and `security.<parameter>`
(or `apps.trafficParams.<parameter>`, `security.presetParams.<parameter>`). Values are text:
lists comma-separated, preset parameters YAML scalars (`traffic.weights=90,10`). Errors name
the key as typed, the value and what is allowed, like the stack files' errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import yaml

from istiolab.env.schema import SettingError, UnknownSetting, attribute, convert, fields, kind
from istiolab.env.spec import PRESET_PARAMS, SECTIONS, EnvSpec
from istiolab.errors import ConfigError

PREFIX = "--set "


def _by_name() -> dict[str, tuple[str, dataclasses.Field]]:
    """Every settable key (spec path and alias) -> (section, field)."""
    out: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if kind(f) is dict:
                continue  # preset parameters: one key per parameter
            out[f"{section}.{f.metadata['key']}"] = (section, f)
            if f.metadata.get("alias"):
                out[f.metadata["alias"]] = (section, f)
    return out


def set_keys() -> list[str]:
    """The keys `--set` takes, aliases first (as `istiolab render --help` lists them)."""
    names = list(_by_name())
    aliases = [n for n in names if "." not in n]
    paths = [n for n in names if "." in n]
    return aliases + paths + [f"{kind}.<parameter>" for kind in PRESET_PARAMS]


def _param(key: str) -> tuple[str, str] | None:
    """(preset kind, parameter) when `key` names a preset parameter."""
    for kind_name, (section, params_key, _) in PRESET_PARAMS.items():
        for prefix in (f"{section}.{params_key}.", f"{kind_name}."):
            if key.startswith(prefix) and key[len(prefix) :]:
                return kind_name, key[len(prefix) :]
    return None


def apply_sets(spec: EnvSpec, assignments: Iterable[str]) -> EnvSpec:
    """A copy of `spec` with each `key=value` applied, then checked as a whole."""
    by_name = _by_name()
    changes: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    params = {
        k: dict(getattr(getattr(spec, s), attribute(SECTIONS[s], pk)))
        for k, (s, pk, _) in PRESET_PARAMS.items()
    }
    typed: dict[str, str] = {}  # canonical path -> the key as typed
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"{PREFIX}{assignment!r} is not allowed: key=value, with key one of "
                + ", ".join(set_keys())
            )
        if key in by_name:
            section, f = by_name[key]
            path = f"{section}.{f.metadata['key']}"
            typed[path] = key
            try:
                changes[section][f.name] = convert(path, f, raw)
            except SettingError as exc:
                raise exc.named(key, PREFIX) from None
            continue
        param = _param(key)
        if param is None:
            raise UnknownSetting(PREFIX, key, set_keys())
        kind_name, name = param
        section, params_key, _ = PRESET_PARAMS[kind_name]
        typed[f"{section}.{params_key}.{name}"] = key
        typed.setdefault(f"{section}.{params_key}", f"{kind_name}.<parameter>")
        params[kind_name][name] = _yaml_value(raw)
    for kind_name, (section, params_key, _) in PRESET_PARAMS.items():
        changes[section][attribute(SECTIONS[section], params_key)] = params[kind_name]
    try:
        parts = {s: dataclasses.replace(getattr(spec, s), **changes[s]) for s in SECTIONS}
        return EnvSpec(**parts)
    except SettingError as exc:
        raise exc.named(typed.get(exc.path, exc.path), PREFIX) from None


def _yaml_value(raw: str) -> Any:
    """Preset parameter values: YAML scalars; a comma makes a list ('90,10' -> [90, 10])."""
    text = f"[{raw}]" if "," in raw and not raw.lstrip().startswith(("[", "{")) else raw
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return raw
