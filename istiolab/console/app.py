"""The console's routes: HTML pages (Jinja templates), their JSON, and Server-Sent Event
streams that push a page's data when it changes. Blocking work (backend calls, lab checks)
runs in worker threads so one slow check never stalls the other pages."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from anyio import to_thread
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from istiolab.console.auth import TokenMiddleware
from istiolab.console.sources import Sources, fingerprint
from istiolab.errors import IstiolabError, NotFoundError

HERE = Path(__file__).parent
PAGES = (("labs", "Labs"), ("graph", "Graph"), ("traces", "Traces"), ("load", "Load runs"),
         ("mesh", "Mesh"))  # fmt: skip
POLL = 1.0  # seconds between a stream's cheap change probes
RECHECK = 30.0  # a lab's checks run again at least this often (traffic checks drift)


def plotly_js() -> Path:
    """plotly.js as the `plotly` package ships it (served locally: the lab runs offline)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


async def _blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await to_thread.run_sync(fn, *args)


def _error(exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, NotFoundError) else 409
    return JSONResponse({"error": str(exc)}, status_code=status)


def create_app(sources: Sources, token: str) -> Any:
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    def page(name: str, request: Request, **context: Any) -> Response:
        context.setdefault("title", dict(PAGES).get(name, name))
        return templates.TemplateResponse(
            request,
            f"{name}.html",
            {"pages": PAGES, "page": name, "backend": sources.backend_name, **context},
        )

    async def json_of(fn: Callable[..., Any], *args: Any) -> Response:
        try:
            return JSONResponse(await _blocking(fn, *args))
        except IstiolabError as exc:
            return _error(exc)

    def stream(request: Request, probe: Callable[[], Any], produce: Callable[[], Any],
               every: float = RECHECK) -> EventSourceResponse:  # fmt: skip
        """Push `produce()` on connect and whenever `probe()` changes (or `every` seconds)."""

        async def events() -> AsyncIterator[dict]:
            last_probe, last_data, last_run = None, None, 0.0
            loop = asyncio.get_running_loop()
            while not await request.is_disconnected():
                try:
                    seen = await _blocking(probe)
                    if seen != last_probe or loop.time() - last_run > every:
                        last_probe, last_run = seen, loop.time()
                        data = await _blocking(produce)
                        digest = fingerprint(data)
                        if digest != last_data:
                            last_data = digest
                            yield {"event": "update", "data": _dumps(data)}
                except IstiolabError as exc:
                    yield {"event": "problem", "data": _dumps({"error": str(exc)})}
                await asyncio.sleep(POLL)

        return EventSourceResponse(events(), ping=15)

    def api(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        """An endpoint answering `fn(request)`'s data as JSON (computed in a worker thread)."""

        async def endpoint(request: Request) -> Response:
            return await json_of(fn, request)

        return endpoint

    def posted(request: Request) -> None:
        # a cross-site form cannot set this header; fetch() from our pages does
        if request.headers.get("x-istiolab-console") != "1":
            raise HTTPException(403, "missing X-Istiolab-Console header")

    # ---------------------------------------------------------------- pages
    async def home(request: Request) -> Response:
        return RedirectResponse("/labs", status_code=303)

    async def labs_page(request: Request) -> Response:
        return page("labs", request, labs=await _blocking(sources.labs))

    async def lab_page(request: Request) -> Response:
        try:
            detail = await _blocking(sources.lab_detail, request.path_params["name"])
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        return page("lab", request, lab=detail, title=detail["title"])

    async def simple_page(request: Request) -> Response:
        return page(request.url.path.strip("/").split("/")[0], request)

    # ---------------------------------------------------------------- labs API
    async def lab_events(request: Request) -> Response:
        name = request.path_params["name"]
        return stream(
            request, lambda: sources.lab_fingerprint(name), lambda: sources.lab_check(name)
        )

    async def lab_hints(request: Request) -> Response:
        p = request.path_params
        return await json_of(lambda: {"hints": sources.lab_hints(p["name"], int(p["task"]))})

    async def lab_solve(request: Request) -> Response:
        posted(request)
        p = request.path_params
        return await json_of(lambda: sources.lab_solve(p["name"], int(p["task"])) or {"ok": True})

    async def lab_reset(request: Request) -> Response:
        posted(request)
        return await json_of(lambda: sources.lab_reset(request.path_params["name"]) or {"ok": True})

    # ---------------------------------------------------------------- mesh, graph, traces
    async def mesh_events(request: Request) -> Response:
        return stream(request, lambda: None, sources.mesh, every=POLL * 2)

    async def graph_events(request: Request) -> Response:
        ns = request.query_params.get("namespace") or None
        return stream(request, lambda: None, lambda: sources.graph(ns), every=POLL * 2)

    async def traces_api(request: Request) -> Response:
        q = request.query_params
        return await json_of(
            sources.traces, q.get("service") or None, float(q.get("min_ms") or 0),
            q.get("status") or None, int(q.get("limit") or 50),
        )  # fmt: skip

    async def trace_api(request: Request) -> Response:
        return await json_of(sources.trace, request.path_params["trace_id"])

    async def trace_page(request: Request) -> Response:
        return page("trace", request, trace_id=request.path_params["trace_id"], title="Trace")

    # ---------------------------------------------------------------- load runs
    async def runs_api(request: Request) -> Response:
        return await json_of(sources.runs)

    async def run_page(request: Request) -> Response:
        try:
            run = await _blocking(sources.run, request.path_params["run"])
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        return page("run", request, run=run, title=f"Load run {run['id']}")

    async def run_file(request: Request) -> Response:
        try:
            path = await _blocking(
                sources.run_file, request.path_params["run"], request.path_params["file"]
            )
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media)

    async def compare_page(request: Request) -> Response:
        q = request.query_params
        try:
            data = await _blocking(sources.compare, q.get("a", ""), q.get("b", ""))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        return page("compare", request, cmp=data, title="Compare load runs")

    async def plotly(request: Request) -> Response:
        return FileResponse(plotly_js(), media_type="text/javascript")

    routes = [
        Route("/", home),
        Route("/labs", labs_page),
        Route("/labs/{name}", lab_page),
        Route("/api/labs", api(lambda r: sources.labs())),
        Route("/api/labs/{name}/events", lab_events),
        Route("/api/labs/{name}/hints/{task:int}", lab_hints),
        Route("/api/labs/{name}/solve/{task:int}", lab_solve, methods=["POST"]),
        Route("/api/labs/{name}/reset", lab_reset, methods=["POST"]),
        Route("/mesh", simple_page),
        Route("/api/mesh", api(lambda r: sources.mesh())),
        Route("/api/mesh/events", mesh_events),
        Route("/graph", simple_page),
        Route("/api/graph", api(lambda r: sources.graph(r.query_params.get("namespace")))),
        Route("/api/graph/events", graph_events),
        Route("/traces", simple_page),
        Route("/traces/{trace_id}", trace_page),
        Route("/api/traces", traces_api),
        Route("/api/traces/{trace_id}", trace_api),
        Route("/load", simple_page),
        Route("/load/compare", compare_page),
        Route("/load/{run}", run_page),
        Route("/load/{run}/files/{file}", run_file),
        Route("/api/load", runs_api),
        Route("/vendor/plotly.min.js", plotly),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    return TokenMiddleware(app, token)


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, default=str)
