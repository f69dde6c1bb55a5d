"""`status` tells the truth about a half-broken mesh within a second, and nothing is
applied behind running proxies' back (issue 10 item 9)."""

from __future__ import annotations

import json
import os
import signal
import time

import loopback
import pytest
from local.test_mesh import cli

from harden.test_one_supervisor import down_leaves_nothing, everything, start
from istiolab.local.health import process_state
from istiolab.local.state import pid_alive
from istiolab.local.store import ConfigStore
from istiolab.local.supervisor import wait_until

pytestmark = pytest.mark.envoy
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late}\n"


def timed(*args: str, stdin: str | None = None) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    code, out, err = cli(*args, stdin=stdin)
    return code, out, err, time.monotonic() - t0


def test_status_and_apply_when_half_broken(state):
    sd = ("--state-dir", str(state.root))
    assert start(state.root, loopback.take("harden-solo")).wait(120) == 0
    before = everything(state)
    supervisor = state.running_pid()
    stored = ConfigStore(state.root).objects()
    try:
        # 1. the supervisor stopped (Ctrl-Z): said at once, nothing applied
        os.kill(supervisor, signal.SIGSTOP)
        wait_until(lambda: process_state(supervisor) in ("T", "t"), 5, "a stopped supervisor")
        code, out, _, took = timed("status", *sd)
        assert code == 1 and took < 1.0
        assert f"supervisor (pid {supervisor}) is stopped" in out
        code, _, err, took = timed("apply", "-f", "-", *sd, stdin=CONFIG_MAP)
        assert code == 1 and "is stopped" in err and took < 1.0
        os.kill(supervisor, signal.SIGCONT)
        # 2. its control socket gone
        state.socket.rename(state.root / "moved.sock")
        code, out, _, took = timed("status", "-o", "json", *sd)
        assert code == 1 and took < 1.0
        assert "control socket" in json.loads(out)["problem"]
        (state.root / "moved.sock").rename(state.socket)
        assert cli("status", *sd)[0] == 0
        # 3. the supervisor killed, its gateway Envoy still serving
        os.kill(supervisor, signal.SIGKILL)
        wait_until(lambda: not pid_alive(supervisor), 10, "the killed supervisor")
        code, out, _, took = timed("status", *sd)
        assert code == 1 and took < 1.0
        assert "supervisor is not running, but" in out and "envoy" in out
        code, _, err, _ = timed("apply", "-f", "-", *sd, stdin=CONFIG_MAP)
        assert code == 1 and "supervisor is not running" in err
        assert ConfigStore(state.root).objects() == stored  # nothing written offline
    finally:
        if pid_alive(supervisor):
            os.kill(supervisor, signal.SIGCONT)
        down_leaves_nothing(state, before)
