"""What is wrong with a half-broken local mesh, found fast (no request that could hang):
the supervisor gone while processes it started still run, the supervisor stopped
(SIGSTOP, Ctrl-Z), or its control socket gone. `status` reports it; commands that change
the mesh refuse to act (an offline store written behind running proxies' back would be
silently ignored by them)."""

from __future__ import annotations

from pathlib import Path

from istiolab.local.state import StateDir


def process_state(pid: int) -> str:
    """The kernel's one-letter state of `pid` (R, S, T, Z...), "" when unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def supervisor_problem(state: StateDir) -> str | None:
    """Why the mesh of `state` cannot be driven right now; None when it runs normally or
    is cleanly stopped."""
    pid = state.running_pid()
    if pid is None:
        orphans = state.mesh_processes()
        if not orphans:
            return None
        pids = ", ".join(str(r["pid"]) for r in orphans[:8])
        more = ", ..." if len(orphans) > 8 else ""
        return (
            f"the mesh's supervisor is not running, but {len(orphans)} process(es) it started "
            f"still run (pids {pids}{more}): its proxies no longer receive configuration; "
            "`istiolab down` stops them, then `istiolab up`"
        )
    if process_state(pid) in ("T", "t"):
        return (
            f"the mesh's supervisor (pid {pid}) is stopped (SIGSTOP or Ctrl-Z): "
            f"`kill -CONT {pid}` resumes it, `istiolab down` stops the mesh"
        )
    if not state.socket.exists():
        return (
            f"the mesh's supervisor (pid {pid}) runs but its control socket {state.socket} is "
            "gone: `istiolab down`, then `istiolab up`"
        )
    return None
