"""Who may use the console: only whoever holds the session token (as Jupyter does it), on
loopback only, and a cross-site form can never drive a lab."""

from __future__ import annotations

import http.client
import os
import stat
import urllib.parse
from pathlib import Path

import pytest

from istiolab.console import server
from istiolab.errors import ConfigError

pytestmark = pytest.mark.envoy


def _get(base: str, path: str, headers: dict | None = None, method: str = "GET"):
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_without_the_token_nothing_is_served(console):
    for path in ("/labs", "/api/mesh", "/static/console.css", "/vendor/plotly.min.js"):
        code, _, body = _get(console["base"], path)
        assert code == 403, path
        assert b"istiolab console" in body
    code, _, _ = _get(console["base"], "/api/mesh", {"Authorization": "Bearer wrong"})
    assert code == 403


def test_the_token_url_sets_a_strict_httponly_cookie(console):
    query = urllib.parse.urlsplit(console["url"]).query
    code, headers, _ = _get(console["base"], f"/labs?{query}")
    assert code == 200
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = cookie.split(";", 1)[0]
    code, _, body = _get(console["base"], "/api/mesh", {"Cookie": jar})
    assert code == 200 and b'"pods"' in body


def test_a_post_without_the_console_header_is_refused(console):
    auth = {"Authorization": f"Bearer {console['token']}"}
    code, _, _ = _get(console["base"], "/api/labs/01-anything/reset", auth, "POST")
    assert code == 403


def test_the_url_file_is_private(console_mesh):
    path = Path(console_mesh.root) / server.URL_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert server.read_url(Path(console_mesh.root)).startswith("http://127.")


def test_only_loopback_is_served():
    with pytest.raises(ConfigError, match="loopback only"):
        server.loopback_only("0.0.0.0")
