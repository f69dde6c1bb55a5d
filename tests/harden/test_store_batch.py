"""delete -f of many objects is one commit (issue 10 item 7), as apply is."""

from __future__ import annotations

from local.test_mesh import cli

from istiolab import manifests
from istiolab.local.store import ConfigStore


def test_delete_of_many_objects_is_one_commit(tmp_path):
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}}
        for i in range(300)
    ]
    path = tmp_path / "many.yaml"
    path.write_text(manifests.to_yaml(objects))
    sd = ("--state-dir", str(tmp_path / "s"))
    assert cli("apply", "-f", str(path), *sd)[0] == 0
    before = ConfigStore(tmp_path / "s").version
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent"}}
    path.write_text(manifests.to_yaml([*objects, extra]))
    code, out, err = cli("delete", "-f", str(path), *sd)
    assert code == 1  # like kubectl: the absent one is reported, the rest deleted
    assert out.count(" deleted") == 300 and 'ConfigMap "absent" not found' in err
    store = ConfigStore(tmp_path / "s")
    assert store.objects() == [] and store.version == before + 1
