"""Helpers for the security tests: requests from inside a namespace's sleep pod (through
its sidecar when it has one), like ``kubectl exec sleep -n foo -- curl ...``."""

from __future__ import annotations

import json

from local.test_mesh import Mesh

from istiolab.workloads import client

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
