"""`istiolab render` and `istiolab validate` through istiolab.cli.main: output files,
determinism, --set, --stack, findings and exit codes (1 on errors, 2 on usage errors)."""

from __future__ import annotations

import io
import sys

import pytest
import yaml

from istiolab.cli import main
from istiolab.env import environment_objects

EXPECTED_FILES = [
    "00-namespaces.yaml",
    "10-bookinfo.yaml",
    "11-httpbin.yaml",
    "12-sleep.yaml",
    "13-fortio.yaml",
    "20-addons.yaml",
    "50-istio-gateway.yaml",
    "51-istio-destination-rules.yaml",
]


def render(tmp_path, *args, name="out"):
    out = tmp_path / name
    assert main(["render", *args, "--out", str(out)]) == 0
    return out


def test_render_then_validate(tmp_path, capsys):
    out = render(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == EXPECTED_FILES
    namespaces = list(yaml.safe_load_all((out / "00-namespaces.yaml").read_text()))
    assert namespaces[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "default", "labels": {"istio-injection": "enabled"}},
    }
    capsys.readouterr()
    assert main(["validate", "-f", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{len(environment_objects())} document(s) valid"


def test_render_is_deterministic(tmp_path, capsys):
    first = render(tmp_path, "--set", "traffic=fault-delay", name="a")
    second = render(tmp_path, "--set", "traffic=fault-delay", name="b")
    for path in first.iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
    capsys.readouterr()
    assert main(["render", "--set", "traffic=fault-delay", "-o", "-"]) == 0
    stream1 = capsys.readouterr().out
    assert main(["render", "--set", "traffic=fault-delay", "-o", "-"]) == 0
    assert capsys.readouterr().out == stream1
    joined = "---\n".join(p.read_text() for p in sorted(first.iterdir()))
    assert stream1 == joined


def test_render_set_keys_and_presets(tmp_path, capsys):
    out = render(
        tmp_path,
        "--set",
        "namespace=lab",
        "--set",
        "samples=bookinfo,httpbin",
        "--set",
        "addons=kiali,prometheus",
        "--set",
        "node_ports=true",
        "--set",
        "mtls=STRICT",
        "--set",
        "traffic=weighted",
        "--set",
        "traffic.weights=90,10",
        "--set",
        "security=deny-namespace",
        "--set",
        "gateway_hosts=bookinfo.app",
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "00-namespaces.yaml",
        "10-bookinfo.yaml",
        "11-httpbin.yaml",
        "20-addons.yaml",
        "50-istio-gateway.yaml",
        "51-istio-destination-rules.yaml",
        "52-istio-mtls.yaml",
        "53-istio-traffic.yaml",
        "54-istio-security.yaml",
    ]
    (vs,) = yaml.safe_load_all((out / "53-istio-traffic.yaml").read_text())
    assert [r["weight"] for r in vs["spec"]["http"][0]["route"]] == [90, 10]
    (pa,) = yaml.safe_load_all((out / "52-istio-mtls.yaml").read_text())
    assert pa["metadata"] == {"name": "default", "namespace": "istio-system"}
    rules = list(yaml.safe_load_all((out / "51-istio-destination-rules.yaml").read_text()))
    assert {r["spec"]["trafficPolicy"]["tls"]["mode"] for r in rules} == {"ISTIO_MUTUAL"}
    addons = list(yaml.safe_load_all((out / "20-addons.yaml").read_text()))
    kiali = next(o for o in addons if o["kind"] == "Service" and o["metadata"]["name"] == "kiali")
    assert [p["nodePort"] for p in kiali["spec"]["ports"]] == [30007, 30008]
    capsys.readouterr()
    assert main(["validate", "-f", str(out)]) == 0


def test_render_removes_parts_a_new_configuration_no_longer_has(tmp_path):
    out = render(tmp_path, "--set", "traffic=all-v1")
    (out / "notes.md").write_text("kept")
    assert (out / "53-istio-traffic.yaml").exists()
    render(tmp_path)
    assert not (out / "53-istio-traffic.yaml").exists()
    assert (out / "notes.md").read_text() == "kept"


def test_preset_destination_rule_replaces_the_default_one(tmp_path):
    out = render(tmp_path, "--set", "traffic=circuit-breaker")
    text = "".join(p.read_text() for p in sorted(out.iterdir()))
    rules = [
        d
        for d in yaml.safe_load_all(text)
        if d["kind"] == "DestinationRule" and d["metadata"]["name"] == "httpbin"
    ]
    assert len(rules) == 1
    assert rules[0]["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "colour=blue"],
            "error: --set colour is not a setting: allowed keys: namespace, ",
        ),
        (
            ["--set", "mtls=on"],
            "error: --set mtls='on' is not allowed: one of STRICT, PERMISSIVE, DISABLE",
        ),
        (
            ["--set", "node_ports=maybe"],
            "error: --set node_ports='maybe' is not allowed: true or false",
        ),
        (
            ["--set", "addons.nodePorts=maybe"],  # the stack files' key, the same setting
            "error: --set addons.nodePorts='maybe' is not allowed: true or false",
        ),
        (
            ["--set", "traffic=weighted", "--set", "traffic.weights=90,20"],
            "error: --set traffic.weights=(90, 20) is not allowed (traffic preset weighted): "
            "weights must sum to 100 (these sum to 110)",
        ),
        (
            ["--set", "traffic=circuit-breaker", "--set", "traffic.max_connections=-1"],
            "error: --set traffic.max_connections=-1 is not allowed (traffic preset "
            "circuit-breaker): an integer >= 1",
        ),
        (
            ["--set", "traffic=canary"],
            "error: --set traffic='canary' is not allowed: one of none, all-v1",
        ),
        (
            ["--set", "traffic.weights=90,10"],  # no traffic preset: would be silently dropped
            "error: --set traffic.<parameter>={'weights': [90, 10]} is not allowed: parameters "
            "of a traffic preset, but the traffic preset is none: choose the preset they are for, "
            "one of all-v1, ",
        ),
        (["--set", "novalue"], "error: --set 'novalue' is not allowed: key=value, with key one of"),
    ],
)
def test_render_bad_settings_exit_1_and_name_the_key(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert main(["render", *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists(), "nothing is written when the settings are wrong"


@pytest.mark.parametrize(
    "args",
    [["render"], ["render", "--out", "x", "-o", "-"], ["render", "-o", "file.yaml"], ["validate"]],
)
def test_usage_errors_exit_2(args, capsys):
    assert main(args) == 2
    assert "Usage:" in capsys.readouterr().err


def test_render_stack_uses_the_stack_config(tmp_path, monkeypatch):
    """`--stack NAME` reads Pulumi.NAME.yaml from the current directory (the project)."""
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  istiolab:cluster: {type: kind}\n"
        "  istiolab:apps: {namespace: workshop, samples: [bookinfo]}\n"
        "  istiolab:addons: {enabled: []}\n"
    )
    monkeypatch.chdir(tmp_path)
    out = render(tmp_path, "--stack", "dev", "--set", "injection=false")
    (ns,) = yaml.safe_load_all((out / "00-namespaces.yaml").read_text())
    assert ns["metadata"] == {"name": "workshop"}


def test_render_stack_that_is_not_there_names_the_stacks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["render", "--stack", "dev", "-o", "-"]) == 1
    err = capsys.readouterr().err
    assert "Pulumi.dev.yaml: no such stack file: stacks here: none" in err


def test_validate_reports_every_finding_one_per_line(tmp_path, capsys):
    good = render(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cb.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"
        "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\n"
        "metadata: {name: httpbin}\nspec:\n  host: httpbin\n  trafficPolicy:\n"
        "    connectionPool:\n      http:\n        http1MaxPendingRequest: 1\n"
    )
    (bad / "kind.yaml").write_text("apiVersion: v1\nkind: Pods\nmetadata: {name: p}\n")
    (bad / "syntax.yaml").write_text("apiVersion: v1\nkind: [Namespace\n")
    capsys.readouterr()
    code = main(["validate", "-f", str(good), "-f", str(bad)])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.strip().splitlines()
    assert lines[0] == (
        f"{bad / 'cb.yaml'}: document 1 (DestinationRule/httpbin): "
        "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest: "
        'unknown field "http1MaxPendingRequest" (did you mean http1MaxPendingRequests?)'
    )
    assert lines[1].startswith(
        f"{bad / 'kind.yaml'}: document 0 (Pods/p): kind: unknown apiVersion/kind v1/Pods "
        "(did you mean Pod? kinds of v1: "
    )
    assert lines[2].startswith(f"{bad / 'syntax.yaml'}:3:1: document 0: invalid YAML: ")
    assert len(lines) == 3
    documents = len(environment_objects()) + 3  # the rendered lab, plus cb.yaml's two and kind.yaml
    assert captured.err.strip() == f"error: 3 problem(s) found in {documents} document(s)"


def test_validate_stdin_and_missing_file(monkeypatch, capsys):
    monkeypatch.setattr(
        sys, "stdin", io.StringIO("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n")
    )
    assert main(["validate", "-f", "-"]) == 0
    assert capsys.readouterr().out.strip() == "1 document(s) valid"
    assert main(["validate", "-f", "/nonexistent/lab.yaml"]) == 1
    assert "/nonexistent/lab.yaml: no such file or directory" in capsys.readouterr().out


def test_validate_empty_directory_is_an_error(tmp_path, capsys):
    assert main(["validate", "-f", str(tmp_path)]) == 1
    assert f"{tmp_path}: no *.yaml or *.yml files in this directory" in capsys.readouterr().out


def test_render_without_addons_or_samples(tmp_path):
    out = render(tmp_path, "--set", "addons=", "--set", "samples=", "--set", "gateway=false")
    assert sorted(p.name for p in out.iterdir()) == ["00-namespaces.yaml"]


def test_render_help_names_every_set_key(capsys):
    from istiolab.env import set_keys

    assert main(["render", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for key in set_keys():
        assert key in text, key


def test_cli_main_returns_the_code_of_ctx_exit(monkeypatch):
    import click

    from istiolab import cli

    @click.command()
    @click.pass_context
    def probe(ctx):
        ctx.exit(56)

    monkeypatch.setitem(cli.COMMANDS, "probe", "manifests:render")
    monkeypatch.setattr(cli.LazyGroup, "get_command", lambda self, ctx, name: probe)
    assert main(["probe"]) == 56
