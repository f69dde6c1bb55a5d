"""The labs through `--context`: the same self-test on the local mesh's own Kubernetes API
(KubeBackend, the official client: exec curl/fortio in pods, pilot-agent for Envoy's admin,
pod logs), as on a cluster from `pulumi up`."""

from __future__ import annotations

import json

import pytest
from local.test_mesh import cli

from istiolab.backends.kube import KubeBackend
from istiolab.labs import format as labformat
from istiolab.labs import session

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(240)]

CONTEXT = "istiolab"  # the local mesh's kubeconfig context


@pytest.fixture(scope="module")
def kube(lab_mesh):
    backend = KubeBackend(CONTEXT, kubeconfig=str(lab_mesh.state.kubeconfig))
    yield backend
    backend.close()


@pytest.mark.parametrize(
    "name",
    [
        "02-request-routing",  # gateway traffic, a logged-in user, versions by stars
        "06-circuit-breaking",  # fortio in the pod, Envoy stats and access log via pilot-agent
        "12-mtls-migration",  # plaintext from a pod without sidecar refused: exit 56
        "17-load-testing",  # `istiolab load --from fortio`: the fortio pod's own load
    ],
)
def test_selftest_through_the_kubernetes_api(kube, name):
    lab = labformat.find_lab(labformat.labs_root(), name)
    report = session.selftest(kube, lab)
    assert report.passed, "\n".join(report.problems)


def test_cli_context(lab_mesh, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(lab_mesh.state.kubeconfig))
    sd = ("--state-dir", str(lab_mesh.root))
    local_before = json.loads(cli("lab", "progress", "-o", "json", *sd)[1])["labs"].get(
        "09-ingress"
    )
    code, out, err = cli("lab", "start", "09", "--context", CONTEXT, *sd)
    assert code == 0, err
    assert "started on istiolab" in out
    code, out, _ = cli("lab", "check", "--context", CONTEXT, "-o", "json", *sd)
    assert code == 1
    first = json.loads(out)["tasks"][0]["checks"][1]
    assert (first["id"], first["passed"]) == ("status-200", False)
    assert cli("lab", "solve", "--context", CONTEXT, *sd)[0] == 0
    code, out, _ = cli("lab", "check", "--context", CONTEXT, "-o", "json", *sd)
    assert code == 0, out
    # progress is per backend: the local mesh's own entry is untouched
    code, out, _ = cli("lab", "progress", "--context", CONTEXT, "-o", "json", *sd)
    assert json.loads(out)["labs"]["09-ingress"]["completed"]
    code, out, _ = cli("lab", "progress", "-o", "json", *sd)
    assert json.loads(out)["labs"].get("09-ingress") == local_before
    assert cli("lab", "cleanup", "--context", CONTEXT, *sd)[0] == 0
