"""A cluster's observability addons, read through the API server's service proxy
(``/api/v1/namespaces/istio-system/services/<name>:<port>/proxy/...``): no port-forward, only
the kubeconfig's credentials. The addons' Services are named as Istio's samples name them
(:mod:`istiolab.names`); the local mesh's Kubernetes API serves the same proxy to its own.

- the service graph and the labs' metric checks: the Prometheus addon (:mod:`.promql`);
- traces: Zipkin's read API, else Jaeger's query API (:mod:`.tracestore`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

from istiolab.errors import MeshError, NotFoundError
from istiolab.names import (
    ISTIO_SYSTEM,
    PROMETHEUS_PORT,
    PROMETHEUS_SERVICE,
    TRACING_PORT,
    TRACING_SERVICE,
    ZIPKIN_PORT,
    ZIPKIN_SERVICE,
)

Call = Callable[[str, Callable[[], Any]], Any]


class ClusterAddons:
    """The addons of kubeconfig context `context` (`api`: its client; `call`: runs a client
    call, its failures as project errors)."""

    def __init__(self, context: str, api: Any, call: Call, timeout: float) -> None:
        self.context, self.api, self.call, self.timeout = context, api, call, timeout

    def window(self, seconds: float) -> dict[str, Any]:
        """:meth:`Backend.telemetry_window` from the Prometheus addon."""
        import time

        from istiolab.backends.promql import window

        def query(expr: str, at: float) -> Any:
            params = urlencode({"query": expr, "time": f"{at:.3f}"})
            return self.get(PROMETHEUS_SERVICE, PROMETHEUS_PORT, f"/api/v1/query?{params}")

        try:
            return window(query, seconds, time.time())
        except (NotFoundError, MeshError) as exc:
            raise MeshError(
                f"context {self.context}: {exc}; the service graph needs the Prometheus addon "
                f"in {ISTIO_SYSTEM} (stack config addons: [prometheus], or "
                "`istiolab up --addons prometheus` on the local mesh)"
            ) from None

    def spans(self) -> list[dict]:
        """:meth:`Backend.spans` from Zipkin's read API, else Jaeger's query API."""
        from istiolab.backends.tracestore import jaeger_spans, zipkin_spans

        try:
            return zipkin_spans(partial(self.get, ZIPKIN_SERVICE, ZIPKIN_PORT))
        except (NotFoundError, MeshError) as zipkin:
            try:
                return jaeger_spans(partial(self.get, TRACING_SERVICE, TRACING_PORT))
            except (NotFoundError, MeshError) as jaeger:
                raise MeshError(
                    f"context {self.context}: no trace store answered ({zipkin}; {jaeger}); "
                    f"traces need the Jaeger or Zipkin addon in {ISTIO_SYSTEM} (stack config "
                    "addons: [jaeger])"
                ) from None

    def get(self, service: str, port: int, path: str) -> Any:
        """GET `path` of ``istio-system/<service>:<port>``, as parsed JSON."""
        import json

        from kubernetes.client.exceptions import ApiException

        target = f"{service}:{port}"
        resource, _, query = path.partition("?")
        what = f"reading {ISTIO_SYSTEM}/{target}{resource}"
        url = f"/api/v1/namespaces/{ISTIO_SYSTEM}/services/{target}/proxy{resource}"

        def get() -> bytes:
            request = self.api.param_serialize(
                "GET",
                url,
                query_params=parse_qsl(query),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            resp = self.api.call_api(*request, _request_timeout=self.timeout)
            resp.read()
            if not 200 <= resp.status <= 299:
                raise ApiException(http_resp=resp)
            return resp.data

        data = self.call(what, get)
        try:
            return json.loads(data)
        except ValueError:
            raise MeshError(f"{what}: not a JSON answer: {data[:80]!r}") from None
