"""Helpers every test area imports (``from support import require``).

Tests that need something the machine may lack call `require(...)`: outside CI it skips with a
reason naming the missing thing; under CI=true tests/conftest.py turns that skip into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, what: str) -> None:
    """Skip (or, under CI=true, fail) unless `condition` holds; `what` names the need."""
    if not condition:
        pytest.skip(f"needs {what}")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"the `{name}` binary on PATH")
    return path  # type: ignore[return-value]
