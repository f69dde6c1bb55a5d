"""The store's dry run translates with the mesh's own settings, and only the config's
faults are the user's: a bug in the translation surfaces as the bug it is."""

from __future__ import annotations

import pytest

from istiolab import manifests
from istiolab.errors import ConfigError, MeshError
from istiolab.local import translate
from istiolab.local.model import MeshSettings
from istiolab.local.store import ConfigStore


def test_dry_run_uses_the_mesh_settings(tmp_path, monkeypatch):
    seen = []
    real = translate.build_resources

    def spy(objects, registry, proxy, settings, **kw):
        seen.append((settings.octet, proxy.pod.ip))
        return real(objects, registry, proxy, settings, **kw)

    monkeypatch.setattr(translate, "build_resources", spy)
    store = ConfigStore(tmp_path, settings=MeshSettings(octet=77, gateway_host="127.77.0.3"))
    store.apply([manifests.namespace("default"), *manifests.httpbin()], "t")
    assert seen and all(octet == 77 and ip.startswith("127.77.") for octet, ip in seen)


def test_a_refused_translation_is_the_users_error(tmp_path, monkeypatch):
    def refuse(*args, **kw):
        raise MeshError("resource 'x' is not valid: no such field")

    monkeypatch.setattr(translate, "build_resources", refuse)
    store = ConfigStore(tmp_path)
    with pytest.raises(ConfigError, match=r"t: the configuration cannot be translated .*nothing"):
        store.apply(manifests.httpbin(), "t")
    assert store.objects() == []


@pytest.mark.parametrize("bug", [KeyError("listeners"), TypeError("unhashable"), ValueError("x")])
def test_a_translation_bug_is_not_reported_as_bad_config(tmp_path, monkeypatch, bug):
    def broken(*args, **kw):
        raise bug

    monkeypatch.setattr(translate, "build_resources", broken)
    store = ConfigStore(tmp_path)
    with pytest.raises(type(bug)):
        store.apply(manifests.httpbin(), "t")
    assert store.objects() == []
