"""Helpers every test area imports (``from support import require``).

Tests that need something the machine may lack call `require(...)`: outside CI it skips with a
reason naming the missing thing; under CI=true tests/conftest.py turns that skip into a failure.
"""

from __future__ import annotations

import http.server
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


class JSONHandler(http.server.BaseHTTPRequestHandler):
    """Base for the tests' loopback HTTP servers: HTTP/1.1, no access log on stderr, and
    `reply` sends a JSON body with its length."""

    protocol_version = "HTTP/1.1"

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass
