"""Per-session token, as Jupyter does it: the URL carries ``?token=...`` once; the console then
sets an HttpOnly, SameSite=Strict cookie and every later request must carry either.

Pure ASGI middleware so it guards HTML, JSON, static files and event streams alike.
"""

from __future__ import annotations

import hmac
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

COOKIE = "istiolab_console"


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenMiddleware:
    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def _matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode())
        given = (query.get("token") or [None])[0]
        headers = dict(scope.get("headers") or [])
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode())
        from_cookie = cookie[COOKIE].value if COOKIE in cookie else None
        auth = headers.get(b"authorization", b"").decode()
        from_header = auth[7:] if auth.lower().startswith("bearer ") else None
        if self._matches(given):
            return await self.app(scope, receive, _with_cookie(send, self.token))
        if self._matches(from_cookie) or self._matches(from_header):
            return await self.app(scope, receive, send)
        body = b"403: open the console with the URL `istiolab console` printed (it has the token)\n"
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", b"%d" % len(body)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _with_cookie(send: Any, token: str) -> Any:
    value = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/".encode()

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", value)]}
        await send(message)

    return wrapped
