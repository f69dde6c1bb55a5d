"""Watches (``?watch=true``): ``kubectl get -w``, ``rollout status``, ``wait``, informers.

The reply is a stream of JSON lines ``{"type": ADDED|MODIFIED|DELETED, "object": ...}`` (Table
rows when kubectl asks for a Table). Without a ``resourceVersion`` (or ``0``) the current
objects come first as ADDED; with one, every change after it from the hub's event log.
Label, field and namespace filters apply to every event; ``timeoutSeconds`` ends the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping

from aiohttp import web

from istiolab.local.kubeapi import tables
from istiolab.local.kubeapi.hub import Hub, Watcher
from istiolab.local.kubeapi.resources import served
from istiolab.local.kubeapi.selectors import field_selector, label_selector
from istiolab.manifests.kinds import KindInfo

MAX_SECONDS = 1800.0


async def watch(
    request: web.Request,
    info: KindInfo,
    version: str,
    namespace: str | None,
    query: Mapping[str, str],
    hub: Hub,
) -> web.StreamResponse:
    as_table = tables.ACCEPT in request.headers.get("Accept", "")
    labels = label_selector(query.get("labelSelector"))
    fields = field_selector(query.get("fieldSelector"))
    seconds = min(float(query.get("timeoutSeconds") or MAX_SECONDS), MAX_SECONDS)
    deadline = time.monotonic() + seconds

    def wanted(key: tuple[str, str, str], obj: dict) -> bool:
        in_scope = key[0] == info.store_kind and (namespace is None or key[1] == namespace)
        return in_scope and labels(obj) and fields(obj)

    async def send(kind: str, obj: dict) -> None:
        obj = served(obj, info, version)
        if as_table:
            obj = tables.table(info.store_kind, [obj], obj["metadata"].get("resourceVersion", ""))
        await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    watcher = Watcher(asyncio.get_running_loop())
    hub.add(watcher)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        start = query.get("resourceVersion") or "0"
        loop = asyncio.get_running_loop()
        rv, objects = await loop.run_in_executor(None, hub.objects)
        if start == "0":  # the current state first, as ADDED events
            for key, obj in sorted(objects.items()):
                if wanted(key, obj):
                    await send("ADDED", obj)
        else:
            rv = int(start) if start.isdigit() else rv
        while time.monotonic() < deadline:
            for event in hub.events_since(rv):
                rv = event.rv
                if wanted(event.key, event.obj):
                    await send(event.type, event.obj)
            watcher.wake.clear()
            if not hub.events_since(rv):
                with contextlib.suppress(TimeoutError):
                    left = max(0.1, deadline - time.monotonic())
                    await asyncio.wait_for(watcher.wake.wait(), timeout=min(5.0, left))
    except ConnectionResetError:
        pass
    finally:
        hub.remove(watcher)
    return resp
