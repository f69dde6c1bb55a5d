"""Helpers shared by the workload tests (addresses, process control)."""

from __future__ import annotations

import itertools
import os
import selectors
import signal
import subprocess

import loopback

OCTET = loopback.take("workloads")
_addresses = itertools.count(1)


def new_ip() -> str:
    """A fresh 127.<OCTET>.<b>.<c> address for this test session."""
    b, c = divmod(next(_addresses), 250)
    return f"127.{OCTET}.{b + 1}.{c + 1}"


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The next stdout line of `proc`, waiting at most `timeout` seconds ('' on timeout)."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return ""
        return proc.stdout.readline().decode().strip()
    finally:
        sel.close()


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def bookinfo_hosts(**services: str) -> dict[str, str]:
    """Hosts map entries for bookinfo services: name -> ``ip`` (port 9080 stays)."""
    return {f"{name}.default.svc.cluster.local": ip for name, ip in services.items()}
