"""`istiolab apply -f A -f B` applies both files as one change, like kubectl; an invalid
document in either file refuses both, naming its file and document (nothing half-applied)."""

from __future__ import annotations

import json

from local.test_mesh import cli

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
spec:
  hosts: [{name}]
  http:
  - route:
    - destination:
        host: {name}
"""


def test_apply_two_files_applies_both(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(VS.format(name="ratings"))
    b.write_text(VS.format(name="reviews"))
    sd = ("--state-dir", str(tmp_path / "state"))
    code, out, err = cli("apply", "-f", str(a), "-f", str(b), *sd)
    assert code == 0, err
    assert out.splitlines() == [
        "virtualservice.networking.istio.io/ratings created",
        "virtualservice.networking.istio.io/reviews created",
    ]
    code, out, _ = cli("get", "vs", "-o", "json", *sd)
    assert [i["metadata"]["name"] for i in json.loads(out)["items"]] == ["ratings", "reviews"]
    code, out, _ = cli("delete", "-f", str(a), "-f", str(b), *sd)
    assert code == 0 and out.count(" deleted") == 2


def test_an_invalid_second_file_applies_nothing(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(VS.format(name="ratings"))
    b.write_text(
        "---\n" + VS.format(name="ok") + "---\n" + VS.format(name="bad").replace("hosts:", "hostz:")
    )
    sd = ("--state-dir", str(tmp_path / "state"))
    code, out, err = cli("apply", "-f", str(a), "-f", str(b), *sd)
    assert code == 1 and out == ""
    assert str(b) in err and "hostz" in err and "document 1" in err, err
    code, out, _ = cli("get", "vs", "-o", "json", *sd)
    assert json.loads(out)["items"] == []
