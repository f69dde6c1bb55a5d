"""``kubectl logs``: a container's output from the state directory's log files.

The app container's log is its process output (``logs/<ns>.<pod>.log``); ``istio-proxy``'s
is its Envoy's output, where the mesh's access log goes (``/dev/stdout``, as Istio's
``accessLogFile``), in ``logs/<ns>.<pod>.envoy.out``. ``tailLines``, ``limitBytes`` and
``follow`` (``-f``: new lines as they are written, until the client goes away or the pod
is replaced) are honoured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from istiolab.local.kubeapi.status import bad_request
from istiolab.local.kubeapi.workloads import PROXY_CONTAINER

PodHandler = Callable[[web.Request, dict, Mapping[str, str]], Awaitable[web.StreamResponse]]


def containers(pod: Mapping[str, Any]) -> list[str]:
    return [str(c["name"]) for c in (pod.get("spec") or {}).get("containers") or []]


def pick_container(pod: Mapping[str, Any], wanted: str | None) -> str:
    """The container a request names, else the pod's default one; kubectl's wording."""
    names = containers(pod)
    name = pod["metadata"]["name"]
    if not wanted:
        return str((pod["metadata"].get("annotations") or {}).get(
            "kubectl.kubernetes.io/default-container", names[0]
        ))  # fmt: skip
    if wanted not in names:
        raise bad_request(
            f"container {wanted} is not valid for pod {name}; choose one of: {' '.join(names)}"
        )
    return wanted


def log_file(logs: Path, pod: Mapping[str, Any], container: str) -> Path:
    base = f"{pod['metadata']['namespace']}.{pod['metadata']['name']}"
    return logs / (f"{base}.envoy.out" if container == PROXY_CONTAINER else f"{base}.log")


def _tail(data: bytes, lines: int | None, limit: int | None) -> bytes:
    if lines is not None:
        parts = data.splitlines(keepends=True)
        data = b"".join(parts[-lines:]) if lines > 0 else b""
    if limit is not None:
        data = data[:limit]
    return data


def handler(mesh: Any) -> PodHandler:
    async def logs(request: web.Request, pod: dict, query: Mapping[str, str]) -> web.StreamResponse:
        container = pick_container(pod, query.get("container"))
        path = log_file(mesh.state.logs, pod, container)
        tail = int(query["tailLines"]) if query.get("tailLines") else None
        limit = int(query["limitBytes"]) if query.get("limitBytes") else None
        data = path.read_bytes() if path.exists() else b""
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(_tail(data, tail, limit))
        if query.get("follow") in ("true", "1"):
            offset = len(data)
            try:
                while path.exists():
                    await asyncio.sleep(0.2)
                    size = path.stat().st_size
                    if size > offset:
                        with path.open("rb") as fh:
                            fh.seek(offset)
                            chunk = fh.read(size - offset)
                        offset = size
                        await resp.write(chunk)
            except (ConnectionResetError, asyncio.CancelledError, FileNotFoundError):
                pass
        return resp

    return logs
