"""One running local mesh for every kubeapi test (Bookinfo, httpbin, sleep, fortio in
``default``), driven by the real ``kubectl`` through the kubeconfig ``istiolab up`` writes.

`Kube.kubectl(...)` runs kubectl with that kubeconfig and returns the completed process;
`Kube.kc(...)` asserts exit code 0 and returns stdout; `Kube.sh("kubectl ...")` takes a line
as the docs write it. Under CI=true a missing kubectl fails
the run (tests/conftest.py); elsewhere the skip names what to install.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import loopback
import pytest
from local.test_mesh import Mesh, running_mesh
from support import require_binary

from istiolab import manifests

OCTET = loopback.take("kubeapi")
SAMPLES = "bookinfo,httpbin,sleep,fortio"


class Kube(Mesh):
    """The shared mesh plus kubectl against its Kubernetes API."""

    kubectl_binary = "kubectl"

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.kubectl_binary, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )

    def popen(self, *args: str) -> subprocess.Popen:
        """kubectl left running (a watch), its output in text pipes."""
        return subprocess.Popen(
            [self.kubectl_binary, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def kc(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        proc = self.kubectl(*args, stdin=stdin, timeout=timeout)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.returncode} {proc.stderr}"
        return proc.stdout

    def run(self, line: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """A docs line, ``kubectl ...`` as one would type it (shell quoting, no pipes)."""
        words = shlex.split(line)
        assert words[0] == "kubectl", line
        return self.kubectl(*words[1:], stdin=stdin)

    def sh(self, line: str, stdin: str | None = None) -> str:
        """:meth:`run`, asserting exit code 0; stdout."""
        proc = self.run(line, stdin=stdin)
        assert proc.returncode == 0, f"{line}: {proc.returncode} {proc.stderr}"
        return proc.stdout

    def write(self, tmp: Path, name: str, objects: list[dict]) -> str:
        path = tmp / name
        path.write_text(manifests.to_yaml(objects))
        return str(path)


@pytest.fixture(scope="session")
def kube(tmp_path_factory):
    binary = require_binary("kubectl")
    root = tmp_path_factory.mktemp("kubeapi-mesh")
    with running_mesh(root, OCTET, SAMPLES, Kube, "kubeapi mesh") as m:
        m.kubectl_binary = binary
        yield m
