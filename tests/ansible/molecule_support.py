"""Running Molecule and Ansible from the tests: paths, environment, Docker detection."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "playbooks"
_VENV_BIN = REPO / ".venv" / "bin"
BIN = _VENV_BIN if (_VENV_BIN / "molecule").exists() else Path(sys.executable).parent


def docker_available() -> bool:
    """True when a Docker engine answers `docker info`."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        probe = subprocess.run([docker, "info"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for ansible-* and molecule: the venv's tools first, no colours."""
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(PLAYBOOKS / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
        PY_COLORS="0",
        ANSIBLE_PIPELINING="1",
    )
    env.update(extra)
    return env


def run(cmd: list[str], *, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=PLAYBOOKS,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def molecule(
    action: str,
    scenario: str,
    image: str,
    *ansible_args: str,
    options: tuple[str, ...] = (),
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """`molecule <action> -s <scenario> [options] [-- ansible args]` from playbooks/."""
    cmd = [str(BIN / "molecule"), action, "-s", scenario, *options]
    if ansible_args:
        cmd += ["--", *ansible_args]
    return run(cmd, env=tool_env(ISTIOLAB_MOLECULE_IMAGE=image), timeout=timeout)


def tail(proc: subprocess.CompletedProcess, lines: int = 80) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-lines:])


def docker_exec(container: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "exec", container, *cmd],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
