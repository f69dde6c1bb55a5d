"""Helpers for the security tests: requests from inside a namespace's sleep pod (through
its sidecar when it has one), like ``kubectl exec sleep -n foo -- curl ...``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

from local.test_mesh import Mesh

from istiolab.backends import HttpResult

GATEWAY = (
    "apiVersion: networking.istio.io/v1\nkind: Gateway\n"
    "metadata:\n  name: httpbin-gateway\n  namespace: foo\nspec:\n"
    "  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n      number: 80\n"
    '      name: http\n      protocol: HTTP\n    hosts: ["*"]\n---\n'
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
    'metadata:\n  name: httpbin\n  namespace: foo\nspec:\n  hosts: ["*"]\n'
    "  gateways: [httpbin-gateway]\n  http:\n  - route:\n    - destination:\n"
    "        host: httpbin\n        port:\n          number: 8000\n"
)
SECURITY_KINDS = ("PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication")


class SecurityMesh(Mesh):
    def apply_yaml(self, text: str) -> str:
        return self.ok("apply", "-f", "-", stdin=text)

    def delete_yaml(self, text: str) -> str:
        return self.ok("delete", "-f", "-", stdin=text)

    def remove_security(self) -> None:
        for kind in SECURITY_KINDS:
            code, out, _ = self.cli("get", kind, "-A", "-o", "json")
            if code != 0:
                code, out, _ = self.cli("get", kind, "-o", "json")
            for item in json.loads(out)["items"] if code == 0 else []:
                md = item["metadata"]
                self.ok("delete", kind, md["name"], "-n", md.get("namespace", "default"))

    def pod_in(self, deployment: str, namespace: str) -> dict:
        """The pod as the running mesh reports it (IPs, app address, PIDs, readiness)."""
        pod = self.backend.pod(f"{deployment}.{namespace}")
        rows = self.backend.pod_rows()
        return next(r for r in rows if (r["namespace"], r["name"]) == (pod.namespace, pod.name))

    def curl(self, src_ns: str, url: str, **kwargs) -> HttpResult:
        """One request from sleep in ``src_ns`` (fresh connection, like curl)."""
        return self.backend.request(f"sleep.{src_ns}", url, **kwargs)

    def code(self, src_ns: str, url: str, **kwargs) -> int:
        return self.curl(src_ns, url, **kwargs).status

    @contextlib.contextmanager
    def httpbin_gateway(self) -> Iterator[Callable[..., tuple[int, str]]]:
        """foo's httpbin behind the ingress gateway for the block; yields
        ``get(path, headers=None) -> (status, body)`` through the gateway."""
        self.apply_yaml(GATEWAY)

        def get(path: str, headers: dict | None = None) -> tuple[int, str]:
            got = self.backend.gateway_request(path, headers=headers, timeout=10)
            return got.status, got.text

        try:
            yield get
        finally:
            self.delete_yaml(GATEWAY)
