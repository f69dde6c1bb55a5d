"""Name resolution for pods without a sidecar: the supervisor's hosts file, re-read on change."""

from __future__ import annotations

import os

from istiolab import manifests
from istiolab.local.mesh import hosts_map
from istiolab.local.model import MeshSettings
from istiolab.local.registry import build_registry
from istiolab.local.state import write_json
from istiolab.workloads.client import resolve
from istiolab.workloads.context import PodContext


def test_hosts_file_is_read_again_after_each_atomic_replace(tmp_path):
    settings = MeshSettings(octet=173)
    path = tmp_path / "hosts.json"
    objects = [manifests.namespace("plain", injection=False)]
    registry, _ = build_registry(objects + manifests.sleep("plain"), settings, {})
    write_json(path, hosts_map(registry))
    env = {"ISTIOLAB_HOSTS_FILE": str(path), "POD_IP": "127.173.1.1"}
    ctx = PodContext.from_environ("sleep-x", "plain", [], env)
    hosts = ctx.session.hosts
    assert resolve("sleep", 80, hosts, "plain") == (registry.pods[0].ip, 80)
    before = os.stat(path).st_ino
    grown, _ = build_registry(
        objects + manifests.sleep("plain") + manifests.httpbin("plain"), settings, {}
    )
    write_json(path, hosts_map(grown))  # temp file + rename, as the supervisor writes it
    assert os.stat(path).st_ino != before
    httpbin = next(p for p in grown.pods if p.labels["app"] == "httpbin")
    assert resolve("httpbin", 8000, hosts, "plain") == (httpbin.ip, 8080)
    path.write_text("{not json")  # a torn write never replaces the last good map
    assert resolve("httpbin.plain.svc.cluster.local", 8000, hosts) == (httpbin.ip, 8080)
