"""`get` output shapes that need no running mesh: kubectl's empty List, its AGE format and the
Pod objects of `get pods -o json`."""

from __future__ import annotations

import json

import pytest
import yaml

from istiolab.backends import Pod
from istiolab.backends.local import pod_from_row
from istiolab.commands.getpods import human_duration, pod_table
from istiolab.local.kubeapi.workloads import pod_object
from local.test_mesh import cli

EMPTY = {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}


def test_no_match_gives_kubectls_messages_and_empty_list(tmp_path):
    sd = ["--state-dir", str(tmp_path)]
    assert cli("get", "vs", "-n", "nosuch", *sd) == (
        0,
        "",
        "No resources found in nosuch namespace.\n",
    )
    assert cli("get", "dr", "-A", *sd) == (0, "", "No resources found.\n")
    code, out, _ = cli("get", "vs", "-o", "json", *sd)
    assert code == 0 and json.loads(out) == EMPTY
    code, out, _ = cli("get", "vs", "-o", "yaml", *sd)
    assert code == 0 and yaml.safe_load(out) == EMPTY


def test_list_of_objects_is_a_kubectl_list(tmp_path):
    sd = ["--state-dir", str(tmp_path)]
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]},
    }
    assert cli("apply", "-f", "-", *sd, stdin=json.dumps(vs))[0] == 0
    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        code, out, err = cli("get", "vs", "-o", fmt, *sd)
        assert code == 0, err
        data = load(out)
        assert {k: data[k] for k in ("apiVersion", "kind")} == {"apiVersion": "v1", "kind": "List"}
        assert [i["metadata"]["name"] for i in data["items"]] == ["r"]
    assert load(cli("get", "vs", "r", "-o", "yaml", *sd)[1])["kind"] == "VirtualService"


def test_get_pods_needs_a_running_mesh(tmp_path):
    code, _, err = cli("get", "pods", "--state-dir", str(tmp_path))
    assert code == 1 and "the local mesh is not running" in err


@pytest.mark.parametrize(
    "seconds, age",
    [
        (-3, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (192, "3m12s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (90 * 86400, "90d"),
        (3 * 365 * 86400 + 5 * 86400, "3y5d"),
        (10 * 365 * 86400, "10y"),
    ],
)
def test_age_like_kubectl(seconds, age):
    assert human_duration(seconds) == age


ROW = {  # a pod as the local mesh's control API reports it
    "name": "sleep-7f-0",
    "namespace": "default",
    "ip": "127.10.1.1",
    "labels": {"app": "sleep"},
    "deployment": "sleep",
    "image": "docker.io/curlimages/curl:8.16.0",
    "sidecar": True,
    "service_account": "sleep",
    "gateway": False,
    "ready": False,
    "containers": 2,
    "ready_containers": 1,
    "restarts": 3,
    "created": 1_000_000.0,
}
POD = pod_from_row(ROW)


def test_typed_pod_from_a_row():
    expected = Pod(
        name="sleep-7f-0",
        namespace="default",
        labels={"app": "sleep"},
        ip="127.10.1.1",
        containers=("sleep", "istio-proxy"),
        ready=False,
        workload="sleep",
        service_account="sleep",
        restarts=3,
        created=1_000_000.0,
        ready_containers=1,
        images=("docker.io/curlimages/curl:8.16.0", POD.images[1]),
    )
    assert expected == POD
    assert POD.images[1].startswith("docker.io/istio/proxyv2:")


def test_pod_table_and_object():
    headers, rows = pod_table([POD], wide=True, all_namespaces=True, now=1_000_192.0)
    assert headers == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert rows == [["default", "sleep-7f-0", "1/2", "NotReady", "3", "3m12s", "127.10.1.1"]]
    obj = pod_object(ROW)
    md = obj["metadata"]
    assert (md["name"], md["namespace"]) == ("sleep-7f-0", "default")
    assert md["labels"] == {"app": "sleep", "security.istio.io/tlsMode": "istio"}
    assert md["creationTimestamp"] == "1970-01-12T13:46:40Z"
    assert md["annotations"]["kubectl.kubernetes.io/default-container"] == "sleep"
    assert obj["spec"]["serviceAccountName"] == "sleep"
    assert [c["name"] for c in obj["spec"]["containers"]] == ["sleep", "istio-proxy"]
    assert obj["status"]["podIP"] == "127.10.1.1"
    ready = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert ready["Ready"] == "False"
    assert [s["ready"] for s in obj["status"]["containerStatuses"]] == [True, False]
