"""The supervisor: start, readiness, restart on crash, stop by PID, port errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

import pytest

from istiolab.errors import MeshError
from istiolab.local.ports import check_port_free
from istiolab.local.state import pid_alive
from istiolab.local.supervisor import (
    ProcessSpec,
    Supervisor,
    kill_recorded,
    wait_until,
)

SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(8)
print("ready 127.0.0.1:1", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""


@pytest.fixture
def sup(tmp_path):
    s = Supervisor(processes_file=tmp_path / "processes.json")
    yield s
    s.close(grace=2)


def spec(tmp_path, name, code, *args, **kw) -> ProcessSpec:
    return ProcessSpec(
        name=name, argv=[sys.executable, "-c", code, *args], log=tmp_path / f"{name}.log", **kw
    )


def test_ready_line_restart_and_stop(sup, tmp_path, loopback):
    host, port = loopback(), 18080
    m = sup.start(spec(tmp_path, "srv", SERVER, host, str(port), ready_line="ready"))
    sup.wait_ready(["srv"], timeout=10)
    first = m.pid
    assert pid_alive(first)
    recorded = [r["pid"] for r in json.loads((tmp_path / "processes.json").read_text())]
    assert recorded == [first]

    os.kill(first, signal.SIGKILL)  # a crash: the supervisor restarts it
    wait_until(lambda: sup.get("srv").pid != first, 10, "restart")
    sup.wait_ready(["srv"], timeout=10)
    assert sup.get("srv").restarts == 1
    with socket.create_connection((host, port), timeout=1):
        pass

    second = sup.get("srv").pid
    sup.stop(["srv"], grace=2)
    assert not pid_alive(first) and not pid_alive(second)
    assert sup.names() == []


def test_sigterm_ignored_gets_sigkill(sup, tmp_path):
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        "print('ready', flush=True); time.sleep(60)"
    )
    m = sup.start(spec(tmp_path, "stubborn", code, ready_line="ready"))
    sup.wait_ready(["stubborn"], timeout=10)
    t = time.monotonic()
    sup.stop(["stubborn"], grace=0.5)
    assert time.monotonic() - t < 5
    assert not pid_alive(m.pid)


def test_process_that_keeps_crashing_fails_readiness_with_its_log(sup, tmp_path):
    code = "import sys; print('boom: bad config', flush=True); sys.exit(3)"
    sup.start(spec(tmp_path, "crasher", code, ready_line="ready"))
    with pytest.raises(MeshError, match=r"crasher: it exited with code 3.*boom: bad config"):
        sup.wait_ready(["crasher"], timeout=20)


def test_missing_executable(sup, tmp_path):
    bad = ProcessSpec(name="x", argv=[str(tmp_path / "nope")], log=tmp_path / "x.log")
    with pytest.raises(MeshError, match="cannot start x"):
        sup.start(bad)


def test_port_in_use_names_address_and_holder(tmp_path, loopback):
    host = loopback()
    s = socket.socket()
    s.bind((host, 18443))
    s.listen(1)
    try:
        with pytest.raises(MeshError) as exc:
            check_port_free(host, 18443, "the ingress gateway")
        msg = str(exc.value)
        assert f"{host}:18443" in msg and "the ingress gateway" in msg
        assert f"pid {os.getpid()}" in msg
    finally:
        s.close()
    check_port_free(host, 18443, "the ingress gateway")  # free again


def test_kill_recorded_stops_leftovers(tmp_path):
    import subprocess

    p = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert p.stdout.readline() == b"up\n"  # exec'd: its command line is its own
    killed = kill_recorded([{"name": "x", "pid": p.pid, "exe": sys.executable}], grace=2)
    assert killed == [p.pid]
    p.wait(timeout=5)
    # a recorded pid whose command does not match is left alone
    q = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert kill_recorded([{"name": "x", "pid": q.pid, "exe": "envoy"}]) == []
        assert q.poll() is None
    finally:
        q.kill()
        q.wait()


def test_port_holder_looks_at_the_address_not_only_the_port(loopback):
    from istiolab.local.ports import port_holder

    mine, other = loopback(), loopback()
    s = socket.socket()
    s.bind((other, 18444))
    s.listen(1)
    try:
        assert port_holder(mine, 18444) is None  # same port, another address: not the holder
        assert f"pid {os.getpid()}" in (port_holder(other, 18444) or "")
    finally:
        s.close()
