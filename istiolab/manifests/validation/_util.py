"""Shared bits of the validators: problems, field paths and did-you-mean hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import NamedTuple


class Problem(NamedTuple):
    """One problem inside one object; the caller adds file, document and kind/name."""

    path: str
    message: str
    hint: str = ""


def join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def did_you_mean(word: str, candidates: Iterable[str], *, list_max: int = 0) -> str:
    """'did you mean X?' for a close candidate; else, with list_max, the candidates."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        folded = {c.lower().replace("_", ""): c for c in options}
        hit = folded.get(word.lower().replace("_", "").replace("-", ""))
        close = [hit] if hit else []
    if close:
        return f"did you mean {close[0]}?"
    if list_max and options:
        shown = ", ".join(options[:list_max]) + (", ..." if len(options) > list_max else "")
        return f"allowed: {shown}"
    return ""


def short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
