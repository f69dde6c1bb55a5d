"""Typed settings written once: a dataclass field per setting, with its key, default, allowed
values and range (`setting()`), and the one conversion and check every syntax goes through.

A syntax (a stack file section, `--set key=value`) turns text or YAML into field values with
`convert()`; the dataclass checks them in `__post_init__` with `check_fields()`. Every error is
a `SettingError` naming the key path, the value and what is allowed; each syntax reports the
path in its own words (`Pulumi.kind.yaml: istiolab:apps.samples`, `--set samples`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import Any

from istiolab.errors import ConfigError, ParameterError


class SettingError(ConfigError):
    """A setting's value is not allowed. `path` is the canonical key path (`apps.samples`);
    `name` is how the user wrote it, once a syntax has said so."""

    def __init__(self, path: str, value: Any, allowed: str, context: str = "") -> None:
        self.path, self.value, self.allowed, self.context = path, value, allowed, context
        self.name = path
        super().__init__(self._text())

    def _text(self) -> str:
        context = f" ({self.context})" if self.context else ""
        return f"{self.name}={self.value!r} is not allowed{context}: {self.allowed}"

    def named(self, name: str, prefix: str = "") -> SettingError:
        """This error with the key as a syntax writes it (`prefix` e.g. the file)."""
        self.name = name
        self.args = (prefix + self._text(),)
        return self


class UnknownSetting(ConfigError):
    """A key that is not a setting: names the close match and every allowed key."""

    def __init__(self, where: str, key: str, allowed: Iterable[str], prefix: str = "") -> None:
        allowed = list(allowed)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = ", ".join(prefix + a for a in allowed)
        super().__init__(f"{where}{key} is not a setting{hint}: allowed keys: {listed}")


class ItemError(SettingError):
    """One item of a list setting is not allowed (the list's other items may be fine)."""

    def _text(self) -> str:
        return f"{self.name}: {self.value!r} is not allowed: {self.allowed}"


def setting(
    key: str,
    default: Any = None,
    *,
    choices: tuple | Callable[[], tuple] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    alias: str = "",
    check: Callable[[str, Any], Any] | None = None,
    factory: Callable[[], Any] | None = None,
    doc: str = "",
) -> Any:
    """A field: `key` as stack files write it, `alias` an extra `--set` name, `choices` the
    allowed values (or items, for lists), `check(parameter, value)` a builder's own check
    (raises ParameterError)."""
    meta = {"key": key, "choices": choices, "min": minimum, "max": maximum, "alias": alias,
            "check": check, "doc": doc}  # fmt: skip
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def fields(cls: type) -> list[dataclasses.Field]:
    return list(dataclasses.fields(cls))


def keys(cls: type) -> list[str]:
    return [f.metadata["key"] for f in fields(cls)]


def attribute(cls: type, key: str) -> str:
    """The attribute name of `cls`'s field whose stack key is `key`."""
    return next(f.name for f in fields(cls) if f.metadata["key"] == key)


def kind(f: dataclasses.Field) -> type:
    """The Python type a field holds: bool, int, float, str, tuple or dict."""
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return type(f.default_factory())  # type: ignore[misc]
    if f.default is None:  # an optional bool: None means "the default rule"
        return bool
    return type(f.default)


def choices_of(f: dataclasses.Field) -> tuple | None:
    c = f.metadata.get("choices")
    return c() if callable(c) else c


def range_text(lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f" from {lo} to {hi}"
    return f" >= {lo}" if lo is not None else ""


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


def convert(path: str, f: dataclasses.Field, value: Any) -> Any:
    """`value` (YAML or text) as the field's type; range and choices are the class's check."""
    want = kind(f)
    choices = choices_of(f)
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if want is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise SettingError(path, value, "true or false")
    if want in (int, float):
        num: Any = value
        if isinstance(value, str):
            try:
                num = want(value)
            except ValueError:
                raise SettingError(path, value, f"a number{range_text(lo, hi)}") from None
        if isinstance(num, bool) or not isinstance(num, int | float):
            raise SettingError(path, value, f"a number{range_text(lo, hi)}")
        if want is int and isinstance(num, float) and not num.is_integer():
            raise SettingError(path, value, f"an integer{range_text(lo, hi)}")
        if (lo is not None and num < lo) or (hi is not None and num > hi):  # named as typed
            raise SettingError(path, value, f"a number{range_text(lo, hi)}")
        return want(num)
    if want is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise SettingError(path, value, "an object of parameter names to values")
        return dict(value)
    if want is tuple:
        items = value
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            listed = f" from: {', '.join(choices)}" if choices else ""
            raise SettingError(path, value, "a list of names" + listed)
        return tuple(items)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        listed = f": one of {', '.join(choices)}" if choices else ""
        raise SettingError(path, value, "a string" + listed)
    return value.strip()


def check_fields(obj: Any, section: str) -> None:
    """Every field of `obj` against its declared choices, range and check."""
    for f in fields(type(obj)):
        value = getattr(obj, f.name)
        path = f"{section}.{f.metadata['key']}" if section else f.metadata["key"]
        if value is None:
            continue
        choices = choices_of(f)
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if isinstance(value, tuple):
            if choices:
                for item in value:
                    if item not in choices:
                        raise ItemError(path, item, "one of " + ", ".join(choices))
            if len(set(value)) != len(value):
                raise SettingError(path, value, "a list without repeated names")
        elif choices and value not in choices:
            raise SettingError(path, value, "one of " + ", ".join(choices))
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            raise SettingError(path, value, f"a number{range_text(lo, hi)}")
        check = f.metadata.get("check")
        if check is not None:
            try:
                check(path, value)
            except ParameterError as exc:
                raise SettingError(path, value, exc.allowed) from None


def parse_section(where: str, path: str, cls: type, raw: Any, skip: tuple[str, ...] = ()) -> Any:
    """A mapping of `cls`'s keys to values (a stack file section) as a `cls`.
    `where` prefixes messages (`Pulumi.kind.yaml: istiolab:`); `path` is the section's."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        err = SettingError(path, raw, "an object with keys " + ", ".join(keys(cls)))
        raise err.named(path, where)
    by_key = {f.metadata["key"]: f for f in fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key in skip:
            continue
        if key not in by_key:
            raise UnknownSetting(f"{where}{path}.", str(key), by_key)
        f = by_key[key]
        try:
            kwargs[f.name] = convert(f"{path}.{key}", f, value)
        except SettingError as exc:
            raise exc.named(exc.path, where) from None
    try:
        return cls(**kwargs)
    except SettingError as exc:
        raise exc.named(exc.path, where) from None
