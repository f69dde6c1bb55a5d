"""Waiting for the local mesh to be ready: processes (readiness probes and log lines),
proxies (xDS ACKs) and HTTP endpoints. Polls with backoff, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from istiolab.local.model import MeshSettings
from istiolab.local.supervisor import Managed, Supervisor


def wait_processes(
    supervisor: Supervisor,
    names: list[str],
    timeout: float,
    on_ready: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> None:
    """Wait until every named process is ready, calling `on_ready(name)` as each becomes so.

    Raises the supervisor's error (exit code, log tail) for a process that keeps exiting or
    is not ready in `timeout` seconds; KeyboardInterrupt once `cancelled()` says so."""
    pending = list(names)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while pending:
        if cancelled():
            raise KeyboardInterrupt  # Ctrl-C / SIGTERM / `down` while starting
        done = [n for n in pending if supervisor.is_ready(n)]
        for n in done:
            pending.remove(n)
            on_ready(n)
        if not pending:
            break
        if time.monotonic() > deadline:
            # let the supervisor explain (exit code, log tail)
            supervisor.wait_ready(pending, timeout=0.01)
        for n in pending:
            m = supervisor.get(n)
            if m is not None and m.popen.poll() is not None and m.restarts >= 2:
                supervisor.wait_ready([n], timeout=0.01)  # raises with the log tail
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def ready_message(m: Managed, settings: MeshSettings) -> tuple[str, str]:
    """The (event kind, message) `up` reports when process `m` is ready."""
    labels = dict(m.spec.labels)
    if labels.get("role") == "sidecar":
        return "proxy", f"{labels['pod']} sidecar ready (admin {labels.get('admin')})"
    if labels.get("role") == "gateway":
        s = settings
        return (
            "proxy",
            f"istio-system/{labels['pod']} ready (http://{s.gateway_host}:{s.gateway_http_port})",
        )
    return "pod", f"{labels.get('pod')} ready ({labels.get('listen') or 'client'})"


def wait_synced(xds: Any, node_ids: list[str], timeout: float = 10.0) -> dict:
    """Wait until every proxy ACKed (or NACKed) the newest push: ``{"ok", "seconds"}`` plus
    ``"error"`` naming each proxy not connected, NACKing (with Envoy's detail) or not ACKed."""
    t0 = time.perf_counter()
    ok = xds.wait_synced(node_ids, timeout=timeout)
    out: dict[str, Any] = {"ok": ok, "seconds": round(time.perf_counter() - t0, 4)}
    if not ok:
        states = {p.node_id: p for p in xds.status()}
        bad = []
        for n in node_ids:
            st = states.get(n)
            if st is None:
                bad.append(f"{n}: not connected")
            elif not st.synced:
                nacks = [f"{k} NACK: {t.nack}" for k, t in st.types.items() if t.nack]
                bad.append(f"{n}: " + ("; ".join(nacks) or "not ACKed yet"))
        out["error"] = " | ".join(bad)
    return out


def wait_http(url: str, timeout: float, host_header: str | None = None) -> int:
    """Poll `url` until it answers 200 (backoff); returns the last status (0 = no answer)."""
    import http.client
    from urllib.parse import urlsplit

    split = urlsplit(url)
    deadline = time.monotonic() + timeout
    delay, status = 0.01, 0
    while True:
        conn = http.client.HTTPConnection(split.hostname, split.port or 80, timeout=5)
        try:
            conn.request("GET", split.path or "/", headers={"Host": host_header or split.netloc})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError:
            status = 0
        finally:
            conn.close()
        if status == 200 or time.monotonic() > deadline:
            return status
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)
