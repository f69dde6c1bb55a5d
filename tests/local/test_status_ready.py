"""`status` READY counts ready containers, like kubectl: a pod whose sidecar is down is 1/2."""

from __future__ import annotations

import sys

import pytest

from istiolab import manifests
from istiolab.commands.lifecycle import pod_rows as status_rows
from istiolab.local.model import MeshSettings
from istiolab.local.pods import GATEWAY_NAME, PodState, pod_rows
from istiolab.local.registry import build_registry, gateway_pod
from istiolab.local.supervisor import ProcessSpec, Supervisor

READY = "import time; print('ready', flush=True); time.sleep(60)"
NEVER = "import time; time.sleep(60)"


@pytest.fixture
def sup(tmp_path):
    s = Supervisor(processes_file=tmp_path / "processes.json")
    yield s
    s.close(grace=2)


def process(tmp_path, name: str, code: str) -> ProcessSpec:
    log = tmp_path / f"{name.replace('/', '.')}.log"
    return ProcessSpec(name=name, argv=[sys.executable, "-c", code], log=log, ready_line="ready")


def test_a_pod_with_its_sidecar_down_is_one_of_two(sup, tmp_path):
    settings = MeshSettings(octet=10)
    objects = [manifests.namespace("default"), *manifests.sleep()]
    registry, _ = build_registry(objects, settings, {})
    pod = next(p for p in registry.pods if p.labels.get("app") == "sleep")
    assert pod.sidecar
    app, proxy = f"default/{pod.name}/sleep", f"default/{pod.name}/istio-proxy"
    sup.start(process(tmp_path, GATEWAY_NAME, READY))
    sup.start(process(tmp_path, app, READY))
    sup.start(process(tmp_path, proxy, NEVER))  # a sidecar that never gets ready
    sup.wait_ready([GATEWAY_NAME, app], timeout=20)

    gw_row, sleep_row = pod_rows(gateway_pod(settings), [PodState(pod, [app, proxy])], sup)
    assert (gw_row["containers"], gw_row["ready_containers"], gw_row["ready"]) == (1, 1, True)
    assert (sleep_row["containers"], sleep_row["ready_containers"]) == (2, 1)
    assert sleep_row["ready"] is False
    rows = status_rows({"pods": [gw_row, sleep_row]})
    assert rows[0][2:4] == ["1/1", "Running"]
    assert rows[1][1:4] == [pod.name, "1/2", "NotReady"]
