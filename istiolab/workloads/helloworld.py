"""Istio's ``helloworld`` sample (``istio/examples-helloworld-v1``/``-v2``) on port 5000:
``GET /hello`` answers ``Hello version: v1, instance: <pod name>``."""

from __future__ import annotations

from istiolab.workloads.context import PodContext
from istiolab.workloads.server import Request, Response


def helloworld_app(ctx: PodContext, version: str):
    def app(request: Request) -> Response:
        if request.path == "/hello":
            return Response.text(f"Hello version: {version}, instance: {ctx.pod_name}\n")
        if request.path == "/health":
            return Response.text("Helloworld is healthy\n")
        return Response.text("Not Found\n", 404)

    return app
