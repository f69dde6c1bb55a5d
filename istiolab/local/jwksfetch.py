"""``jwksUri`` as istiod handles it: the control plane fetches each key set itself (with a
timeout, from any address this machine reaches; HTTPS is verified against the system's
roots, or the bundle named by ``SSL_CERT_FILE``), caches it, and inlines it into the
RequestAuthentication it translates (``jwks``), so Envoy never fetches anything.

When a fetch fails, the rule is translated with a key set no token verifies against
(:data:`istiolab.local.translate.security.jwt.UNREACHABLE_JWKS`): requests carrying a token
are rejected (401), as with istiod. The failures are kept in ``<state>/jwks-status.json``
(0600) for ``analyze`` (ISTL0103) and listed in ``status`` findings.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from istiolab.local.state import write_json

TIMEOUT = 5.0  # seconds per fetch (istiod: PILOT_JWT_... 5s)
REFRESH = 20 * 60.0  # istiod refreshes key sets every 20 minutes
RETRY_FAILED = 5.0  # a failed URI is tried again on a change after this long
STATUS_FILE = "jwks-status.json"
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Failure:
    namespace: str
    name: str
    uri: str
    reason: str

    def finding(self) -> str:
        """The analyze line (istioctl's format, our ISTL code)."""
        return (
            f"Error [ISTL0103] (RequestAuthentication {self.namespace}/{self.name}) "
            f"the control plane could not fetch jwksUri {self.uri}: {self.reason}; requests "
            "with a token are rejected (401) until it can"
        )


def fetch(uri: str, timeout: float = TIMEOUT) -> str:
    """The key set at ``uri`` as JSON text; raises ValueError with the reason."""
    try:
        context = ssl.create_default_context() if uri.startswith("https://") else None
        with urllib.request.urlopen(uri, timeout=timeout, context=context) as resp:
            body = resp.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ValueError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ValueError(str(exc.reason)) from exc
    except (OSError, ValueError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from exc
    if len(body) > MAX_BYTES:
        raise ValueError("the key set is larger than 1 MiB")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError('not a JWK set (no "keys" list)')
    return json.dumps(data, separators=(",", ":"))


class JwksResolver:
    """The cache of fetched key sets (thread-safe), used at every reconcile."""

    def __init__(self, state_root: Path | None = None, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.status_path = Path(state_root) / STATUS_FILE if state_root else None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None, str]] = {}  # uri -> (at, jwks, error)
        self.failures: list[Failure] = []

    def _get(self, uri: str) -> tuple[str | None, str]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None:
            at, text, error = cached
            if (text is not None and now - at < REFRESH) or (
                text is None and now - at < RETRY_FAILED
            ):
                return text, error
        try:
            text, error = fetch(uri, self.timeout), ""
        except ValueError as exc:
            text, error = None, str(exc)
        with self._lock:
            self._cache[uri] = (now, text, error)
        return text, error

    def inline(self, objects: list[dict]) -> list[dict]:
        """``objects`` with every RequestAuthentication's ``jwksUri`` rules given ``jwks``
        (the fetched key set); failures recorded in :attr:`failures` and the status file."""
        failures: list[Failure] = []
        out = []
        for obj in objects:
            rules = (obj.get("spec") or {}).get("jwtRules") or []
            if obj.get("kind") != "RequestAuthentication" or not any(
                r.get("jwksUri") and not r.get("jwks") for r in rules
            ):
                out.append(obj)
                continue
            md = obj.get("metadata") or {}
            new_rules = []
            for rule in rules:
                if rule.get("jwksUri") and not rule.get("jwks"):
                    text, error = self._get(str(rule["jwksUri"]))
                    if text is None:
                        ns = str(md.get("namespace") or "default")
                        failures.append(Failure(ns, str(md.get("name")), rule["jwksUri"], error))
                    else:
                        rule = {**rule, "jwks": text}
                new_rules.append(rule)
            out.append({**obj, "spec": {**obj["spec"], "jwtRules": new_rules}})
        self.failures = failures
        if self.status_path is not None:
            write_json(self.status_path, [f.__dict__ for f in failures])
        return out


def recorded_failures(state_root: Path) -> list[Failure]:
    """The failures the running (or last) mesh recorded, for ``analyze``."""
    path = Path(state_root) / STATUS_FILE
    try:
        return [Failure(**row) for row in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
