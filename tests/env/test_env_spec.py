"""The environment spec: one schema, two syntaxes (stack files, --set) over it, and the objects
it stands for, the same for `istiolab render`, `istiolab up` and the Pulumi program."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from istiolab.cli import main
from istiolab.env import (
    SECTIONS,
    AppsSpec,
    EnvSpec,
    SecuritySpec,
    SettingError,
    apply_sets,
    environment_files,
    environment_objects,
    from_sections,
    set_keys,
)
from istiolab.env.schema import fields, kind
from istiolab.errors import ParameterError
from istiolab.local.samples import default_samples
from istiolab.manifests import validate_objects


def test_the_default_environment_is_ordered_and_valid():
    objs = environment_objects()
    validate_objects(objs)
    assert objs[0]["metadata"] == {"name": "default", "labels": {"istio-injection": "enabled"}}
    istio = [i for i, o in enumerate(objs) if o["apiVersion"].endswith(".istio.io/v1")]
    plain = [i for i, o in enumerate(objs) if ".istio.io/" not in o["apiVersion"]]
    assert max(plain) < min(istio), "Istio custom resources come after every other object"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SecuritySpec(mtls="strict"),
         "security.mtls='strict' is not allowed: one of STRICT, PERMISSIVE, DISABLE"),
        (lambda: AppsSpec(samples=("nginx",)),
         "apps.samples: 'nginx' is not allowed: one of bookinfo, httpbin, sleep, fortio"),
        (lambda: AppsSpec(traffic="canary"), "apps.traffic='canary' is not allowed: one of none"),
        (lambda: AppsSpec(samples=("sleep",), gateway=True),
         "apps.gateway=True is not allowed: false unless samples include bookinfo"),
        (lambda: EnvSpec(apps=AppsSpec(traffic_params={"weights": [90, 10]})),
         "apps.trafficParams={'weights': [90, 10]} is not allowed: parameters of a traffic "
         "preset, but the traffic preset is none: choose the preset they are for, one of "),
        (lambda: EnvSpec(security=SecuritySpec(preset_params={"mode": "STRICT"})),
         "security.presetParams={'mode': 'STRICT'} is not allowed: parameters of a security "
         "preset, but the security preset is none"),
        (lambda: EnvSpec(apps=AppsSpec(traffic="weighted", traffic_params={"weights": [5, 5]})),
         "apps.trafficParams.weights=(5, 5) is not allowed (traffic preset weighted)"),
    ],
)  # fmt: skip
def test_a_spec_made_in_code_is_checked_like_the_syntaxes(build, message):
    with pytest.raises(SettingError) as err:
        build()
    assert str(err.value).startswith(message), str(err.value)


def _other_value(f: dataclasses.Field):
    """A valid non-default value for a field, as the stack syntax writes it."""
    special = {
        "samples": ["bookinfo", "sleep"], "httpbinVersions": ["v1"], "gatewayHosts": ["a.b"],
        "enabled": ["kiali"], "traffic": "all-v1", "preset": "deny-all", "profile": "demo",
        "outboundTrafficPolicy": "REGISTRY_ONLY", "gatewayService": "NodePort",
        "pluginCa": "generate", "mtls": "STRICT",
    }  # fmt: skip
    key = f.metadata["key"]
    if key in special:
        return special[key]
    want = kind(f)
    if want is bool:
        return not (f.default if f.default is not None else False)
    if want is float:
        return 42.0
    return "lab-x"


def test_stack_files_and_set_are_two_syntaxes_over_one_schema():
    """Every setting: the stack syntax, --set with its path and --set with its alias give
    the same spec."""
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            if kind(f) is dict:
                continue
            value = _other_value(f)
            key = f.metadata["key"]
            from_stack = from_sections({section: {key: value}})
            text = ",".join(value) if isinstance(value, list) else str(value)
            assert apply_sets(EnvSpec(), [f"{section}.{key}={text}"]) == from_stack, key
            if f.metadata.get("alias"):
                assert apply_sets(EnvSpec(), [f"{f.metadata['alias']}={text}"]) == from_stack
            assert getattr(getattr(from_stack, section), f.name) != getattr(
                getattr(EnvSpec(), section), f.name
            )
    assert {k for k in set_keys() if "." in k and "<" not in k} == {
        f"{s}.{f.metadata['key']}" for s, c in SECTIONS.items() for f in fields(c)
        if kind(f) is not dict
    }  # fmt: skip


def test_preset_parameters_in_both_syntaxes():
    stack = from_sections({"apps": {"traffic": "weighted", "trafficParams": {"weights": [90, 10]}}})
    for sets in (["traffic=weighted", "traffic.weights=90,10"],
                 ["apps.traffic=weighted", "apps.trafficParams.weights=90,10"]):  # fmt: skip
        assert apply_sets(EnvSpec(), sets) == stack


def test_up_deploys_what_render_writes_for_the_same_spec(capsys):
    """`istiolab up --samples bookinfo,httpbin` = `istiolab render` of that spec (the local
    mesh runs no addons): the Gateway and the DestinationRules included."""
    sets = ["samples=bookinfo,httpbin", "httpbin_versions=v1", "addons="]
    assert main(["render", *(a for s in sets for a in ("--set", s)), "-o", "-"]) == 0
    rendered = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    up = default_samples(["bookinfo", "httpbin"])
    assert up == rendered
    kinds = {(o["kind"], o["metadata"]["name"]) for o in up}
    assert {("DestinationRule", "reviews"), ("DestinationRule", "httpbin"),
            ("Gateway", "bookinfo-gateway")} <= kinds  # fmt: skip


def test_up_takes_the_same_settings_as_render(capsys):
    sets = ["security.mtls=STRICT", "traffic=all-v1"]
    up = default_samples(["bookinfo"], sets=sets)
    args = ["samples=bookinfo", "addons=", *sets]
    assert main(["render", *(a for s in args for a in ("--set", s)), "-o", "-"]) == 0
    assert up == [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    kinds = {o["kind"] for o in up}
    assert {"PeerAuthentication", "VirtualService", "DestinationRule"} <= kinds


def test_up_with_a_bad_setting_is_one_line_and_applies_nothing(tmp_path, monkeypatch, capsys):
    from istiolab.local import envoy

    monkeypatch.setattr(envoy, "find_envoy", lambda *a: "/bin/true")  # no Envoy needed
    code = main(["up", "--state-dir", str(tmp_path), "--set", "security.mtls=strict"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "error: --set security.mtls='strict' is not allowed: one of STRICT, PERMISSIVE, DISABLE"
    )
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_tcp_echo_and_helloworld_are_samples_up_and_render_offer():
    # not deployed unless asked for
    assert "tcp-echo" not in EnvSpec().apps.samples and "helloworld" not in EnvSpec().apps.samples
    up = default_samples(["tcp-echo", "helloworld"])
    assert up == default_samples([], sets=["apps.samples=tcp-echo,helloworld"])
    workloads = {(o["kind"], o["metadata"]["name"]) for o in up if o["kind"] != "Namespace"}
    assert workloads == {
        ("Service", "tcp-echo"), ("Deployment", "tcp-echo-v1"), ("Deployment", "tcp-echo-v2"),
        ("Service", "helloworld"), ("Deployment", "helloworld-v1"),
        ("Deployment", "helloworld-v2"),
    }  # fmt: skip
    [svc] = [o for o in up if o["kind"] == "Service" and o["metadata"]["name"] == "tcp-echo"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [9000, 9001]
    validate_objects(up)  # raises on any finding
    files = dict(environment_files(apply_sets(EnvSpec(), ["samples=sleep,tcp-echo,helloworld"])))
    assert {"12-sleep.yaml", "14-tcp-echo.yaml", "15-helloworld.yaml"} <= set(files)


def test_an_unknown_sample_names_every_sample_on_offer():
    with pytest.raises(ParameterError) as caught:
        default_samples(["tcp-echo", "nginx"])
    assert "'nginx'" in str(caught.value) and "tcp-echo, helloworld" in str(caught.value)
