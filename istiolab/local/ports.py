"""Host network facts for the local mesh: whether an address can be bound (and who holds
it) and whether ports below 1024 may be bound. Read by :class:`istiolab.local.mesh.Mesh`
once per start; translation never asks the host."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from istiolab.errors import MeshError
from istiolab.local.state import process_cmdline


def port_holder(host: str, port: int) -> str | None:
    """Name the process listening on host:port (from /proc), or None if unknown."""
    try:
        hexport = f"{port:04X}"
        ip = socket.inet_aton(host)[::-1].hex().upper()  # /proc/net/tcp: little-endian hex
        wanted = {f"{ip}:{hexport}", f"00000000:{hexport}", f"{'0' * 32}:{hexport}"}
        inodes: set[str] = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as f:
                for row in f.read().splitlines()[1:]:
                    cols = row.split()
                    if cols[1] in wanted and cols[3] == "0A":  # this address (or any), LISTEN
                        inodes.add(cols[9])
        if not inodes:
            return None
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        cmd = " ".join(process_cmdline(int(pid)))[:120]
                        return f"pid {pid}: {cmd}"
    except OSError:
        return None
    return None


def check_port_free(host: str, port: int, purpose: str) -> None:
    """Raise a MeshError naming host:port and its holder if it cannot be bound."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        s.listen(1)
    except OSError as exc:
        holder = port_holder(host, port) if exc.errno == errno.EADDRINUSE else None
        held = f"; held by {holder}" if holder else ""
        hint = " (choose another with --gateway-port / --gateway-host)" if port < 15000 else ""
        raise MeshError(
            f"cannot listen on {host}:{port} for {purpose}: {exc.strerror}{held}{hint}"
        ) from None
    finally:
        s.close()


def can_bind_privileged_ports() -> bool:
    """Whether processes started here may bind ports below 1024: as root, or when the kernel
    lets everyone (``net.ipv4.ip_unprivileged_port_start`` = 0, as in many containers).
    Decided once per mesh start (``MeshSettings.privileged_ports``); translation never asks."""
    if os.geteuid() == 0:
        return True
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) == 0
    except (OSError, ValueError):
        return False
