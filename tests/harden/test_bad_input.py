"""No traceback on bad input (issue 10 item 8): every case is one clear line per problem
naming the file and document, exit 1, and nothing stored."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from local.test_mesh import cli

from istiolab.local.store import ConfigStore

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 1
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      serviceAccountName: %s
      containers: [{name: c, image: docker.io/kennethreitz/httpbin}]
"""


def bomb() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    prev = "a"
    for name in "bcdefgh":
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
        prev = name
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nlaughs:\n" + "".join(
        f"  {line}\n" for line in lines
    )


CASES = [
    (
        "apiVersion: v1\nkind: List\nitems:\n- 1\n- {apiVersion: v1, kind: ConfigMap, "
        "metadata: {name: a}}\n",
        "document 0: items[0] is an int, not a Kubernetes object",
    ),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 100 levels deep"),
    (bomb(), "once YAML aliases are expanded"),
    (DEPLOYMENT % "Bad_Name", "serviceAccountName: 'Bad_Name' is not a valid service account"),
]


@pytest.mark.parametrize(("text", "message"), CASES, ids=["list", "deep", "bomb", "sa"])
def test_bad_documents_are_one_clear_line(tmp_path, text, message):
    code, _, err = cli("apply", "--state-dir", str(tmp_path), "-f", "-", stdin=text)
    assert code == 1
    assert message in err and "Traceback" not in err
    assert ConfigStore(tmp_path).objects() == []


def test_undecodable_stdin_bytes(tmp_path):
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \xff\xfe}\n"
    proc = subprocess.run(
        [sys.executable, "-m", "istiolab", "apply", "--state-dir", str(tmp_path), "-f", "-"],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert b"<stdin>: document 0: not UTF-8 text (byte 48" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_directory_apply_names_file_and_document(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    negative = (DEPLOYMENT % "ok").replace("replicas: 1", "replicas: -1")
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n"
    (folder / "b.yaml").write_text(config_map + negative)
    code, out, err = cli("apply", "--state-dir", str(tmp_path / "s"), "-f", str(folder))
    assert code == 1, out
    assert f"{folder / 'b.yaml'}: document 1 (Deployment/d): spec.replicas: -1 is negative" in err


def test_a_store_with_non_object_entries_is_a_clear_error(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "objects.json").write_text('{"version": 1, "objects": [1, "x"]}')
    code, _, err = cli("get", "configmap", "--state-dir", str(tmp_path))
    assert code == 1
    assert "the config store is unreadable (entry 0 is not a Kubernetes object" in err
    assert "Traceback" not in err


def test_stdin_text_stream_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("apiVersion: v1\nkind: ConfigMap\n"))
    from istiolab.manifests.io import read_documents

    docs, findings = read_documents("-")
    assert findings == [] and docs[0][2]["kind"] == "ConfigMap"
