"""The HTTPS server of the local mesh's Kubernetes API (aiohttp, on its own thread).

Part of the running mesh: :class:`istiolab.local.mesh.Mesh` starts it after the control API
on ``https://<istiod ip>:6443`` (loopback only) and writes ``<state-dir>/kubeconfig``.
Every request needs the kubeconfig's bearer token (401 otherwise). Routes: discovery and
OpenAPI (:mod:`.discovery`), resources (:mod:`.resources`, Table output from
:mod:`.tables`, watches from :mod:`.hub`), and the pod subresources ``exec``
(:mod:`.exec`), ``log`` (:mod:`.logs`) and ``portforward`` (:mod:`.portforward`).
Blocking work (apply, exec'd commands) runs on the default executor, never on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import ssl
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aiohttp import web

from istiolab.errors import IstiolabError, MeshError
from istiolab.local.kubeapi import discovery, protobuf, tables
from istiolab.local.kubeapi.credentials import Credentials
from istiolab.local.kubeapi.hub import Hub
from istiolab.local.kubeapi.resources import Resources
from istiolab.local.kubeapi.status import (
    ApiError,
    bad_request,
    method_not_allowed,
    status_object,
)
from istiolab.local.kubeapi.svcproxy import parse_target
from istiolab.local.kubeapi.watch import watch
from istiolab.manifests.kinds import KindInfo, by_resource

TABLE = tables.ACCEPT


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )


class Route:
    """A resource URL taken apart: group, version, namespace, kind, name, subresource."""

    def __init__(self, parts: list[str]) -> None:
        if parts[0] == "api":
            self.group, self.version, rest = "", parts[1], parts[2:]
        else:
            self.group, self.version, rest = parts[1], parts[2], parts[3:]
        self.namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces" and by_resource(self.group, rest[2]):
            self.namespace, rest = rest[1], rest[2:]
        info = by_resource(self.group, rest[0]) if rest else None
        if info is None or self.version not in info.versions:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.info: KindInfo = info
        self.name = rest[1] if len(rest) > 1 else None
        self.sub = rest[2] if len(rest) > 2 else None
        if info.namespaced and self.name is not None and self.namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")


class KubeApi:
    """The aiohttp application over one mesh (see :class:`Resources` for the mesh's door)."""

    def __init__(
        self,
        resources: Resources,
        hub: Hub,
        creds: Credentials,
        pod_handlers: dict[str, Callable[..., Any]],
        service_proxy: Callable[..., Any] | None = None,
    ) -> None:
        self.resources = resources
        self.hub = hub
        self.creds = creds
        self.pod_handlers = pod_handlers  # subresource -> async handler(request, pod, query)
        self.service_proxy = service_proxy  # async handler(request, service, pods, name)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.creds.authorized(request.headers.get("Authorization")):
            return _json(status_object(401, "Unauthorized", "Unauthorized"), 401)
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status(), exc.code)
        except IstiolabError as exc:
            return _json(status_object(500, "InternalError", str(exc)), 500)
        except (web.HTTPException, ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug: say so in the API's words, keep serving
            traceback.print_exc()
            message = (
                f"internal error in the local mesh's Kubernetes API: {type(exc).__name__}: {exc}"
            )
            return _json(status_object(500, "InternalError", message), 500)

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        fixed = self._fixed(path)
        if fixed is not None:
            return fixed
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            found = discovery.resource_list("", parts[1])
            return _json(found) if found else _json(_nf(), 404)
        if parts[0] == "apis" and len(parts) == 2:
            group = next(
                (g for g in discovery.api_group_list()["groups"] if g["name"] == parts[1]), None
            )
            return (
                _json({"kind": "APIGroup", "apiVersion": "v1", **group})
                if group
                else _json(_nf(), 404)
            )
        if parts[0] == "apis" and len(parts) == 3:
            found = discovery.resource_list(parts[1], parts[2])
            return _json(found) if found else _json(_nf(), 404)
        if parts[0] not in ("api", "apis") or len(parts) < 3:
            return _json(_nf(), 404)
        return await self._resource(request, Route(parts))

    def _fixed(self, path: str) -> web.Response | None:
        if path == "/version":
            return _json(discovery.version())
        if path == "/api":
            return _json(discovery.api_versions())
        if path == "/apis":
            return _json(discovery.api_group_list())
        if path in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok")
        if path == "/openapi/v2":
            return web.Response(
                body=discovery.OPENAPI_V2_PROTO,
                content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )
        if path == "/openapi/v3":
            return _json(discovery.openapi_v3_index())
        if path.startswith("/openapi/v3/"):
            gv = path[len("/openapi/v3/") :].split("/")
            group, version = ("", gv[1]) if gv[0] == "api" else (gv[1], gv[-1])
            doc = discovery.openapi_v3_gv(group, version) if len(gv) >= 2 else None
            return _json(doc) if doc else _json(_nf(), 404)
        return None

    async def _resource(self, request: web.Request, route: Route) -> web.StreamResponse:
        q = dict(request.query)
        r, info, method = self.resources, route.info, request.method
        if route.sub:
            if info.kind == "Pod" and route.sub in self.pod_handlers:
                pod = await self._blocking(r.get, info, "v1", route.namespace, route.name)
                return await self.pod_handlers[route.sub](request, pod, request.query)
            if route.sub == "proxy" and info.kind == "Service" and self.service_proxy:
                return await self._proxy(request, route)
            if route.sub == "scale" and info.kind == "Deployment":
                if method == "GET":
                    return _json(await self._blocking(r.scale, info, route.namespace, route.name))
                if method in ("PUT", "PATCH"):
                    ctype = request.headers.get("Content-Type", "application/json")
                    scaled = await self._blocking(
                        r.set_scale,
                        info,
                        route.namespace,
                        route.name,
                        ctype,
                        await request.read(),
                        q,
                    )
                    return _json(scaled)
            if route.sub == "status" and method == "GET":
                obj = await self._blocking(r.get, info, route.version, route.namespace, route.name)
                return _json(obj)
            raise ApiError(404, "NotFound", f"the subresource {route.sub!r} is not served")
        if route.name is None:
            if method == "GET" and q.get("watch") in ("true", "1"):
                return await watch(request, route.info, route.version, route.namespace, q, self.hub)
            if method == "GET":
                rv, items = await self._blocking(r.list, info, route.version, route.namespace, q)
                return self._list(request, info, route.version, rv, items)
            if method == "POST":
                if info.read_only:  # before reading a body it could not store anyway
                    raise method_not_allowed(info, "create")
                body = await _body(request)
                code, obj = await self._blocking(
                    r.create, info, route.version, route.namespace, body, q
                )
                return _json(obj, code)
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
        args = (info, route.version, route.namespace, route.name)
        if method == "GET":
            obj = await self._blocking(r.get, *args)
            if TABLE in request.headers.get("Accept", ""):
                return _json(
                    tables.table(info.store_kind, [obj], obj["metadata"]["resourceVersion"])
                )
            return _json(obj)
        if method == "PUT":
            code, obj = await self._blocking(r.replace, *args, await _body(request), q)
            return _json(obj, code)
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "application/merge-patch+json")
            code, obj = await self._blocking(r.patch, *args, ctype, await request.read(), q)
            return _json(obj, code)
        if method == "DELETE":
            obj = await self._blocking(r.delete, *args, q)
            return _json(obj)
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")

    async def _proxy(self, request: web.Request, route: Route) -> web.StreamResponse:
        assert self.service_proxy is not None and route.name is not None
        name, _ = parse_target(route.name)
        info = route.info
        service = await self._blocking(self.resources.get, info, "v1", route.namespace, name)
        _, objects = self.hub.objects(refresh=False)  # the snapshot get() just took
        ns = route.namespace
        pods = [o for (kind, in_ns, _), o in objects.items() if kind == "Pod" and in_ns == ns]
        return await self.service_proxy(request, service, pods, route.name)

    def _list(
        self, request: web.Request, info: KindInfo, version: str, rv: int, items: list[dict]
    ) -> web.Response:
        if TABLE in request.headers.get("Accept", ""):
            return _json(tables.table(info.store_kind, items, str(rv)))
        gv = f"{info.group}/{version}" if info.group else version
        return _json(
            {
                "kind": f"{info.kind}List",
                "apiVersion": gv,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            }
        )


def _nf() -> dict:
    return status_object(404, "NotFound", "the server could not find the requested resource")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if request.headers.get("Content-Type", "").startswith(protobuf.PROTOBUF):
        return protobuf.decode(raw)
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise bad_request(f"the request body is not JSON: {exc}") from exc


class KubeApiServer:
    """Runs a :class:`KubeApi` on its own thread and event loop until stopped."""

    def __init__(self, api: KubeApi, host: str, port: int) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise MeshError(f"the Kubernetes API listens on loopback only, not on {host}")
        self.api, self.host, self.port = api, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="kubeapi", daemon=True
        )
        self._thread.start()
        ready.result(timeout=timeout)  # re-raises a bind failure

    def _run(self, ready: Future[None]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # applies and exec'd commands (a fortio load) block a thread each; watches do not
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="kubeapi"))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.api.creds.cert_file, self.api.creds.key_file)
        try:
            self._runner = web.AppRunner(self.api.app(), access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(
                self._runner, self.host, self.port, ssl_context=ctx, reuse_address=True
            )
            loop.run_until_complete(site.start())
        except OSError as exc:
            ready.set_exception(
                MeshError(
                    f"the Kubernetes API cannot listen on {self.host}:{self.port}: "
                    f"{exc.strerror or exc}"
                )
            )
            loop.close()
            return
        ready.set_result(None)
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        self.api.hub.close()
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
