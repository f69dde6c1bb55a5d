"""``kubectl exec``: Kubernetes' channel protocol over a WebSocket.

kubectl 1.32 (and the official Python client) open a WebSocket on ``pods/<name>/exec`` with
the subprotocol ``v5.channel.k8s.io`` (``v4.channel.k8s.io`` as fallback). Every binary
message starts with its channel: 1 stdout, 2 stderr, 3 the final ``Status`` (success, or
``NonZeroExitCode`` with the exit code as cause, which kubectl turns into its own exit
code). The command runs on the executor (see :mod:`istiolab.local.kubeapi.commands`).

kubectl (client-go) starts reading the connection before it has registered its stdout and
stderr streams, and drops what arrives for a stream it does not know yet ("Unknown stream id
2, discarding message"). A kubelet's output comes after a process has started; ours can be
ready at once, so nothing is sent until :data:`FIRST_OUTPUT_AFTER` has passed since the
upgrade.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from istiolab.local.kubeapi import commands
from istiolab.local.kubeapi.logs import PodHandler, pick_container
from istiolab.local.kubeapi.status import ApiError
from istiolab.local.kubeapi.workloads import PROXY_CONTAINER

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR = 1, 2, 3
CHUNK = 32 * 1024
FIRST_OUTPUT_AFTER = 0.1  # seconds after the upgrade: kubectl's streams exist by then


def exit_status(code: int, argv: list[str]) -> dict:
    """The error channel's final message."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command "
        f"{argv}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def pod_context(mesh: Any, pod: Mapping[str, Any], container: str) -> commands.PodContext:
    from istiolab.local.admin import admin_request
    from istiolab.local.kubeapi import istiod
    from istiolab.local.model import MeshSettings

    ip = pod["status"]["podIP"]
    names = [c["name"] for c in pod["spec"]["containers"]]
    debug = (
        (lambda path: istiod.debug(mesh.proxy_status()["proxies"], path))
        if istiod.is_istiod(pod)
        else None
    )
    sidecar = PROXY_CONTAINER in names and len(names) > 1
    return commands.PodContext(
        name=pod["metadata"]["name"],
        namespace=pod["metadata"]["namespace"],
        ip=ip,
        app_ip=MeshSettings.app_ip(ip) if sidecar else ip,
        sidecar=sidecar,
        container=container,
        hosts=mesh.hosts,
        admin=lambda method, path: admin_request(mesh.state, ip, path, method),
        debug=debug,
    )


def handler(mesh: Any) -> PodHandler:
    async def exec_(
        request: web.Request, pod: dict, query: Mapping[str, str]
    ) -> web.StreamResponse:
        argv = list(request.query.getall("command", []))
        container = pick_container(pod, query.get("container"))
        ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise ApiError(
                400,
                "BadRequest",
                "exec needs a WebSocket upgrade (subprotocol v5.channel.k8s.io or "
                "v4.channel.k8s.io); SPDY is not served by the local mesh",
            )
        await ws.prepare(request)
        upgraded = time.monotonic()
        ctx = pod_context(mesh, pod, container)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, commands.run, ctx, argv)
        except Exception as exc:  # a bug: the command fails, the session ends cleanly
            result = commands.Result().error(f"istiolab: internal error: {exc!r}", 1)
        await asyncio.sleep(max(0.0, upgraded + FIRST_OUTPUT_AFTER - time.monotonic()))
        for channel, data in ((STDOUT, result.stdout), (STDERR, result.stderr)):
            for i in range(0, len(data), CHUNK):
                await ws.send_bytes(bytes([channel]) + data[i : i + CHUNK])
        status = json.dumps(exit_status(result.code, argv)).encode()
        await ws.send_bytes(bytes([ERROR]) + status)
        await ws.close()
        return ws

    return exec_
