"""Helpers for the security tests: requests from inside a namespace's sleep pod (through
its sidecar when it has one), like ``kubectl exec sleep -n foo -- curl ...``."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable, Iterator

from local.test_mesh import Mesh

from istiolab.workloads import client

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
        return next(
            p
            for p in self.status()["pods"]
            if p["deployment"] == deployment and p["namespace"] == namespace
        )

    def curl(self, src_ns: str, url: str, **kwargs) -> client.Response:
        """One request from sleep in ``src_ns`` (fresh connection, like curl)."""
        pod = self.pod_in("sleep", src_ns)
        if pod["sidecar"]:
            return client.send(
                url,
                source_ip=pod["app_ip"],
                proxy=f"http://{pod['ip']}:15001",
                namespace=src_ns,
                **kwargs,
            )
        hosts = json.loads(self.state.hosts_file.read_text())
        return client.send(url, source_ip=pod["ip"], hosts=hosts, namespace=src_ns, **kwargs)

    def code(self, src_ns: str, url: str, **kwargs) -> int:
        return self.curl(src_ns, url, **kwargs).status

    @contextlib.contextmanager
    def httpbin_gateway(self) -> Iterator[Callable[..., tuple[int, str]]]:
        """foo's httpbin behind the ingress gateway for the block; yields
        ``get(path, headers=None) -> (status, body)`` through the gateway."""
        self.apply_yaml(GATEWAY)
        host = self.status()["settings"]["gateway_host"]

        def get(path: str, headers: dict | None = None) -> tuple[int, str]:
            conn = http.client.HTTPConnection(host, 8080, timeout=10)
            try:
                conn.request("GET", path, headers=headers or {})
                resp = conn.getresponse()
                return resp.status, resp.read().decode()
            finally:
                conn.close()

        try:
            yield get
        finally:
            self.delete_yaml(GATEWAY)
