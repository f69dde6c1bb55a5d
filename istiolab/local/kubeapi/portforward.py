"""``kubectl port-forward``: Kubernetes' ``portforward.k8s.io`` protocol, SPDY tunnelled
through a WebSocket (subprotocol ``SPDY/3.1+portforward.k8s.io``), as kubectl 1.32 speaks it.

For every local connection kubectl opens two streams with the same ``requestID``: an error
stream and a data stream naming the pod ``port``. The server answers each SYN_STREAM, connects
to the port inside the pod (behind a sidecar the app's owner-only Unix socket, else its
pod-local address; the pod IP for the sidecar's ports and pods without one), copies bytes
both ways as DATA frames, and ends both streams with FIN when the connection closes; a port
nobody listens on is reported on the error stream, which kubectl prints.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from aiohttp import WSMsgType, web

from istiolab.local.kubeapi import spdy
from istiolab.local.kubeapi.logs import PodHandler
from istiolab.local.kubeapi.status import ApiError
from istiolab.local.kubeapi.workloads import PROXY_CONTAINER

PROTOCOL = "SPDY/3.1+portforward.k8s.io"
SIDECAR_PORTS = frozenset({15000, 15001, 15006, 15020, 15021, 15090})
CHUNK = 32 * 1024


def endpoints(pod: Mapping[str, Any], port: int, settings: Any) -> list[str | tuple[str, int]]:
    """Where `port` answers inside the pod, in order: the app's owner-only Unix socket behind
    its sidecar (``settings.app_socket``), its pod-local address, then the pod IP (the
    sidecar's ports, pods without a sidecar)."""
    from istiolab.local.model import MeshSettings

    ip = pod["status"]["podIP"]
    names = [c["name"] for c in pod["spec"]["containers"]]
    if PROXY_CONTAINER in names and len(names) > 1 and port not in SIDECAR_PORTS:
        sock = settings.app_socket(ip, port)
        return [*([sock] if sock else []), (MeshSettings.app_ip(ip), port), (ip, port)]
    return [(ip, port)]


class Session:
    """One kubectl port-forward connection (many forwarded TCP connections)."""

    def __init__(self, ws: web.WebSocketResponse, pod: Mapping[str, Any], settings: Any) -> None:
        self.ws, self.pod, self.settings = ws, pod, settings
        self.codec = spdy.Codec()
        self.lock = asyncio.Lock()
        self.error_streams: dict[str, int] = {}  # requestID -> error stream id
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.pending: dict[int, list[spdy.Frame]] = {}  # DATA that came before the connect
        self.tasks: set[asyncio.Task] = set()

    async def send(self, data: bytes) -> None:
        async with self.lock:
            if not self.ws.closed:
                await self.ws.send_bytes(data)

    async def run(self) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.BINARY:
                continue
            for frame in self.codec.feed(msg.data):
                await self.handle(frame)
        for writer in self.writers.values():
            writer.close()
        for task in self.tasks:
            task.cancel()

    async def handle(self, frame: spdy.Frame) -> None:
        if not frame.control:
            if frame.stream_id in self.pending:
                self.pending[frame.stream_id].append(frame)
                return
            writer = self.writers.get(frame.stream_id)
            if writer is not None:
                await self.deliver(writer, frame)
            return
        if frame.type == spdy.PING:
            await self.send(spdy.Codec.ping(frame.payload))
        elif frame.type == spdy.RST_STREAM:
            writer = self.writers.pop(frame.stream_id, None)
            if writer is not None:
                writer.close()
        elif frame.type == spdy.SYN_STREAM:
            async with self.lock:  # header compression is one stream: reply in order
                await self.ws.send_bytes(self.codec.syn_reply(frame.stream_id))
            request = frame.headers.get("requestid", "")
            if frame.headers.get("streamtype") == "error":
                self.error_streams[request] = frame.stream_id
            elif frame.headers.get("streamtype") == "data":
                self.pending[frame.stream_id] = []
                task = asyncio.create_task(self.forward(frame.stream_id, request, frame.headers))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def deliver(writer: asyncio.StreamWriter, frame: spdy.Frame) -> None:
        if frame.payload:
            writer.write(frame.payload)
            await writer.drain()
        if frame.flags & spdy.FLAG_FIN and writer.can_write_eof():
            writer.write_eof()

    async def forward(self, stream_id: int, request: str, headers: Mapping[str, str]) -> None:
        port = int(headers.get("port", "0"))
        error_stream = self.error_streams.pop(request, None)
        reader = writer = None
        failure = ""
        for where in endpoints(self.pod, port, self.settings):
            try:
                if isinstance(where, str):
                    reader, writer = await asyncio.open_unix_connection(where)
                else:
                    reader, writer = await asyncio.open_connection(*where)
                break
            except OSError as exc:
                failure = f"{exc.strerror or exc}"
        if writer is None or reader is None:
            self.pending.pop(stream_id, None)
            name = self.pod["metadata"]["name"]
            message = (
                f"error forwarding port {port} to pod {name}: dial tcp {port}: connect: {failure}"
            )
            if error_stream is not None:
                await self.send(spdy.Codec.data(error_stream, message.encode(), fin=True))
            await self.send(spdy.Codec.data(stream_id, b"", fin=True))
            return
        self.writers[stream_id] = writer
        try:
            queue = self.pending.get(stream_id, [])
            while queue:  # in order: frames that arrive meanwhile join the queue
                await self.deliver(writer, queue.pop(0))
            self.pending.pop(stream_id, None)
            while chunk := await reader.read(CHUNK):
                await self.send(spdy.Codec.data(stream_id, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.pop(stream_id, None)
            writer.close()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send(spdy.Codec.data(stream_id, b"", fin=True))
                if error_stream is not None:
                    await self.send(spdy.Codec.data(error_stream, b"", fin=True))


def handler(mesh: Any) -> PodHandler:
    async def portforward(
        request: web.Request, pod: dict, query: Mapping[str, str]
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(PROTOCOL,), max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise ApiError(
                400,
                "BadRequest",
                f"port-forward needs a WebSocket upgrade with subprotocol {PROTOCOL} "
                "(kubectl 1.31 or newer); plain SPDY is not served by the local mesh",
            )
        await ws.prepare(request)
        await Session(ws, pod, mesh.settings).run()
        return ws

    return portforward
