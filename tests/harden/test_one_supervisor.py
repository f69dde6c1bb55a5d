"""One supervisor per state directory (issue 10 item 4): a lock held for its whole life,
`down` finds it without its pid file, a garbled processes.json or store gives a clear
message and leaves nothing running, and the store keeps its previous good copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import loopback
import pytest
from local.test_mesh import cli, up_args

from istiolab.local.state import StateDir, pid_alive
from istiolab.local.supervisor import wait_until

pytestmark = pytest.mark.envoy


def start(root, octet) -> subprocess.Popen:
    argv = [sys.executable, "-m", "istiolab", *up_args(root, octet, samples="none")]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def everything(state: StateDir) -> list[int]:
    holder = state.lock_holder()
    return [r["pid"] for r in state.mesh_processes()] + ([holder] if holder else [])


def down_leaves_nothing(state: StateDir, before: list[int]) -> str:
    code, out, err = cli("down", "--state-dir", str(state.root))
    assert code == 0, err
    left = [p for p in before if pid_alive(p)]
    assert left == [] and everything(state) == [], f"left running: {left}"
    return out + err


def test_two_concurrent_ups_one_supervisor(state):
    octet = loopback.take("harden-solo")
    a, b = start(state.root, octet), start(state.root, octet)
    results = [(*p.communicate(timeout=120), p.returncode) for p in (a, b)]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 1], results
    loser = next(r for r in results if r[2] == 1)
    assert "already running" in loser[1] and "Traceback" not in loser[1]
    pid = state.running_pid()
    assert pid is not None and state.lock_holder() == pid
    assert down_leaves_nothing(state, everything(state))


def test_down_finds_a_supervisor_without_its_pid_file(state):
    octet = loopback.take("harden-solo")
    assert start(state.root, octet).wait(120) == 0
    before = everything(state)
    assert len(before) >= 2  # the gateway's Envoy and the supervisor
    state.pid_file.unlink()
    assert state.running_pid() == state.lock_holder()
    out = down_leaves_nothing(state, before)
    assert "stopped" in out


def test_garbled_processes_file_still_stops_everything(state):
    octet = loopback.take("harden-solo")
    assert start(state.root, octet).wait(120) == 0
    before = everything(state)
    supervisor = state.running_pid()
    os.kill(supervisor, signal.SIGKILL)  # its Envoy keeps running, unsupervised
    wait_until(lambda: not pid_alive(supervisor), 10, "the killed supervisor")
    state.processes_file.write_text("{not json")
    out = down_leaves_nothing(state, before)
    assert "processes.json: unreadable" in out


def test_garbled_store_is_refused_clearly_with_a_backup(state):
    octet = loopback.take("harden-solo")
    assert start(state.root, octet).wait(120) == 0
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: '%s'}\n"
    for value in ("1", "2"):
        code, _, err = cli("apply", "--state-dir", str(state.root), "-f", "-", stdin=doc % value)
        assert code == 0, err
    down_leaves_nothing(state, everything(state))
    store = state.root / "store"
    good = json.loads((store / "objects.json.bak").read_text())
    assert any(o["metadata"]["name"] == "c" for o in good["objects"])
    (store / "objects.json").write_text(json.dumps({"version": 3, "objects": [1, "x"]}))
    proc = start(state.root, octet)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "config store is unreadable" in err and "objects.json.bak" in err
    assert "Traceback" not in err
    assert everything(state) == []
