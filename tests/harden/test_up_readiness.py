"""`up` exits non-zero when its readiness check does not answer 200 (issue 10 item 3)."""

from __future__ import annotations

import http.server
import threading

import loopback
import pytest
from support import JSONHandler

from istiolab.backends.local import LocalBackend
from istiolab.commands import lifecycle
from istiolab.errors import MeshError


class Broken(JSONHandler):
    def do_GET(self) -> None:
        self.reply(500, b'{"error": "fault filter abort"}')


def test_up_fails_when_productpage_answers_500(tmp_path, monkeypatch):
    host = f"127.{loopback.take('harden-solo')}.0.3"
    server = http.server.ThreadingHTTPServer((host, 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://{host}:{server.server_address[1]}/productpage"
    monkeypatch.setattr(lifecycle, "_productpage_url", lambda backend: url)
    monkeypatch.setattr(lifecycle, "READY_HTTP_TIMEOUT", 0.5)
    try:
        with pytest.raises(MeshError, match=r"answered 500, not 200: the mesh is not ready"):
            lifecycle._finish_up(LocalBackend(tmp_path), lifecycle.make_console(), 0.0, False)
    finally:
        server.shutdown()
        server.server_close()
