"""A pod whose inbound port another process holds makes `up` fail naming the holder
(issue 10 item 7), and leaves nothing running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import loopback
import pytest
from local.test_mesh import up_args

from harden.test_one_supervisor import everything

pytestmark = pytest.mark.envoy


def test_up_names_the_holder_of_a_pod_port(state):
    octet = loopback.take("harden-solo")
    holder = socket.socket()
    holder.bind((f"127.{octet}.1.1", 8080))  # httpbin's pod IP and container port
    holder.listen(1)
    try:
        argv = [sys.executable, "-m", "istiolab", *up_args(state.root, octet, samples="httpbin")]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        holder.close()
    assert proc.returncode == 1, proc.stdout
    assert f"cannot listen on 127.{octet}.1.1:8080 for the inbound port 8080" in proc.stderr
    assert f"held by pid {os.getpid()}" in proc.stderr
    assert everything(state) == []
