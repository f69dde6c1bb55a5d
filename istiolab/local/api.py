"""The control API's routes: what the CLI asks a running mesh over its Unix socket.

Each route takes the request body (a dict; a GET's query parameters) and returns JSON-able
data; :class:`istiolab.local.control.ControlServer` turns project errors into error replies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from istiolab.local.control import Handler

if TYPE_CHECKING:
    from istiolab.local.mesh import Mesh


def get_objects(store: Any, body: Mapping[str, Any], registry: Any = None) -> list[dict]:
    """Objects of `kind` (optionally `name`) in `namespace` ("*": all namespaces); Gateway
    API objects carry the status Istio would write (addresses from `registry`, the running
    mesh's; without one, Gateways are not Programmed)."""
    from istiolab.local.translate.gatewayapi import is_gateway_api
    from istiolab.local.translate.gatewayapi_status import with_status

    ns = body.get("namespace") or "default"
    found = store.get(str(body.get("kind")), body.get("name") or None, None if ns == "*" else ns)
    if any(is_gateway_api(o) for o in found):
        found = with_status(found, store.objects(), registry)
    return found


def control_routes(mesh: Mesh) -> dict[tuple[str, str], Handler]:
    """(method, path) -> handler, over one running :class:`Mesh`."""

    def apply(body: dict) -> Any:
        return mesh.apply(list(body.get("objects") or []), str(body.get("source", "<apply>")))

    def delete(body: dict) -> Any:
        refs = [(r["kind"], r["name"], r.get("namespace") or "default") for r in body["refs"]]
        return mesh.delete(refs)

    def get(body: dict) -> Any:
        return get_objects(mesh.store, body, mesh.registry)

    def proxy_admin(body: dict) -> Any:
        text = mesh.proxy_admin(
            str(body.get("pod") or ""),
            str(body.get("namespace") or "default"),
            str(body.get("path") or "/"),
            str(body.get("method") or "GET").upper(),
        )
        return {"body": text}

    def shutdown(body: dict) -> Any:
        mesh.shutdown_requested.set()
        return {"pid": os.getpid()}

    return {
        ("POST", "/apply"): apply,
        ("POST", "/delete"): delete,
        ("GET", "/get"): get,
        ("GET", "/status"): lambda body: mesh.status(),
        ("GET", "/telemetry/window"): lambda body: mesh.telemetry.window(
            float(body.get("seconds") or 60)
        ),
        ("GET", "/proxy-status"): lambda body: mesh.proxy_status(),
        ("GET", "/hosts"): lambda body: mesh.hosts(),
        ("GET", "/resources"): lambda body: mesh.resources(str(body.get("node", ""))),
        ("GET", "/proxy-admin"): proxy_admin,
        ("POST", "/proxy-admin"): proxy_admin,
        ("GET", "/pods"): lambda body: mesh.pods(),
        ("GET", "/objects"): lambda body: mesh.store.objects(),
        ("GET", "/info"): lambda body: mesh.info(),
        ("GET", "/logs"): lambda body: mesh.logs(
            str(body.get("namespace") or "default"),
            str(body.get("pod", "")),
            body.get("container") or None,
            int(body["tail"]) if body.get("tail") not in (None, "") else None,
        ),
        ("POST", "/shutdown"): shutdown,
    }
