"""The stack config schema: every example stack validates; every mistake is named."""

from __future__ import annotations

import json

import pytest
from pulumi_harness import REPO, STACKS, stack_config

from istiolab import stack_config as sc
from istiolab import versions
from istiolab.env import AddonsSpec, AppsSpec, EnvSpec, MeshSpec, environment_objects
from istiolab.errors import ConfigError

KIND = {"istiolab:cluster": {"type": "kind"}}


def parse(extra: dict) -> sc.StackConfig:
    return sc.parse({**KIND, **extra}, source="Pulumi.test.yaml")


@pytest.mark.parametrize("name", STACKS)
def test_every_example_stack_validates(name):
    cfg = sc.read_stack_file(name, REPO)
    assert cfg.cluster.type == name
    assert cfg.source == f"Pulumi.{name}.yaml"
    spec = sc.env_for_stack(name, REPO)
    assert spec == cfg.env and isinstance(spec, EnvSpec)
    assert environment_objects(spec)


def test_kind_stack_maps_onto_the_environment_spec():
    cfg = sc.read_stack_file("kind", REPO)
    assert isinstance(cfg.cluster, sc.KindSettings)
    assert (cfg.cluster.http_port, cfg.cluster.node_image) == (8080, versions.KIND_NODE_IMAGE)
    assert cfg.mesh.profile == "demo" and cfg.mesh.egress  # demo brings the egress gateway
    assert sc.env_for_stack("kind", REPO) == EnvSpec(
        mesh=MeshSpec(profile="demo", tracing_sampling=100.0),
        apps=AppsSpec(
            namespace="default",
            samples=("bookinfo", "httpbin", "sleep", "fortio"),
            httpbin_versions=("v1", "v2"),
        ),
        addons=AddonsSpec(enabled=("prometheus", "grafana", "kiali", "jaeger"), node_ports=True),
    )


def test_pulumi_cli_config_reads_like_the_stack_file(monkeypatch):
    """The CLI hands objects to the program as JSON text and scalars as text."""
    from pulumi.runtime.config import set_all_config

    config = stack_config("minikube")
    env = {k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()}
    env["kubernetes:enableServerSideApply"] = "true"  # other namespaces are not ours
    set_all_config({})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(env))
    from_cli = sc.from_pulumi()
    from_file = sc.read_stack_file("minikube", REPO)
    assert from_cli.cluster == from_file.cluster
    assert (from_cli.mesh, from_cli.apps, from_cli.security) == (
        from_file.mesh,
        from_file.apps,
        from_file.security,
    )


def test_scalars_given_as_text_are_typed():
    cfg = sc.parse(
        {
            "istiolab:cluster": '{"type": "kind", "workers": "2"}',
            "istiolab:addons": {"nodePorts": "true"},
        }
    )
    assert cfg.cluster.workers == 2 and cfg.addons.node_ports is True


def test_misspelled_top_level_key():
    with pytest.raises(ConfigError) as err:
        parse({"istiolab:secuirty": {"mtls": "STRICT"}})
    msg = str(err.value)
    assert "Pulumi.test.yaml: istiolab:secuirty is not a setting (did you mean 'security'?)" in msg
    assert "allowed keys: istiolab:cluster, istiolab:mesh, istiolab:apps" in msg


def test_misspelled_nested_key_names_the_allowed_keys_of_that_cluster_type():
    with pytest.raises(ConfigError) as err:
        parse({"istiolab:cluster": {"type": "kind", "wrokers": 2}})
    msg = str(err.value)
    assert "istiolab:cluster.wrokers is not a setting (did you mean 'workers'?)" in msg
    assert "allowed keys: type, name, controlPlanes, workers, nodeImage" in msg
    with pytest.raises(ConfigError, match=r"istiolab:cluster.cpus is not a setting"):
        parse({"istiolab:cluster": {"type": "kind", "cpus": 4}})  # a minikube key


def test_unknown_cluster_type():
    with pytest.raises(ConfigError) as err:
        parse({"istiolab:cluster": {"type": "k3s"}})
    assert str(err.value) == (
        "Pulumi.test.yaml: istiolab:cluster.type='k3s' is not allowed: "
        "one of kind, minikube, k0s, existing"
    )


def test_missing_cluster():
    with pytest.raises(ConfigError, match=r"istiolab:cluster is missing: .*kind, minikube"):
        sc.parse({"istiolab:mesh": {"profile": "demo"}}, source="Pulumi.x.yaml")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"istiolab:mesh": {"profile": "prod"}},
         "istiolab:mesh.profile='prod' is not allowed: one of default, demo"),
        ({"istiolab:cluster": {"type": "kind", "workers": -1}},
         "istiolab:cluster.workers=-1 is not allowed: a number from 0 to 10"),
        ({"istiolab:cluster": {"type": "kind", "workers": "two"}},
         "istiolab:cluster.workers='two' is not allowed: a number from 0 to 10"),
        ({"istiolab:addons": {"nodePorts": "yes please"}},
         "istiolab:addons.nodePorts='yes please' is not allowed: true or false"),
        ({"istiolab:apps": {"samples": ["bookinfo", "petstore"]}},
         "istiolab:apps.samples: 'petstore' is not allowed: one of bookinfo, httpbin, sleep"),
        ({"istiolab:addons": {"enabled": "kiali,zipkin"}},
         "istiolab:addons.enabled: 'zipkin' is not allowed: one of prometheus, grafana, kiali"),
        ({"istiolab:security": {"mtls": "strict"}},
         "istiolab:security.mtls='strict' is not allowed: one of STRICT, PERMISSIVE, DISABLE"),
        ({"istiolab:mesh": {"outboundTrafficPolicy": "DENY"}},
         "istiolab:mesh.outboundTrafficPolicy='DENY' is not allowed: one of ALLOW_ANY"),
        ({"istiolab:mesh": {"tracingSampling": 150}},
         "istiolab:mesh.tracingSampling=150 is not allowed: a number from 0 to 100"),
        ({"istiolab:apps": {"traffic": "canary"}},
         "istiolab:apps.traffic='canary' is not allowed: one of none, all-v1"),
        ({"istiolab:apps": {"traffic": "weighted", "trafficParams": {"weights": [50, 40]}}},
         "istiolab:apps.trafficParams.weights=(50, 40) is not allowed (traffic preset weighted)"),
        ({"istiolab:apps": {"traffic": "weighted", "trafficParams": {"wieghts": [50, 50]}}},
         "istiolab:apps.trafficParams.wieghts=[50, 50] is not allowed (traffic preset weighted)"),
        ({"istiolab:apps": {"trafficParams": {"weights": [90, 10]}}},
         "istiolab:apps.trafficParams={'weights': [90, 10]} is not allowed: parameters of a "
         "traffic preset, but the traffic preset is none"),
        ({"istiolab:security": {"presetParams": {"mode": "STRICT"}}},
         "istiolab:security.presetParams={'mode': 'STRICT'} is not allowed: parameters of a "
         "security preset, but the security preset is none"),
        ({"istiolab:apps": {"namespace": "Bookinfo"}},
         "istiolab:apps.namespace='Bookinfo' is not allowed: a DNS-1123 label"),
        ({"istiolab:apps": {"samples": ["sleep"], "gateway": True}},
         "istiolab:apps.gateway=True is not allowed: false unless samples include bookinfo"),
        ({"istiolab:mesh": {"pluginCa": "files"}},
         "istiolab:mesh.caDir is missing: pluginCa=files reads ca-cert.pem"),
        ({"istiolab:loadGenerator": {"enabled": True, "namespace": "default"}},
         "istiolab:loadGenerator.namespace='default' is not allowed: a namespace of its own"),
        ({"istiolab:loadGenerator": {"enabled": True, "namespace": "Load"}},
         "istiolab:loadGenerator.namespace='Load' is not allowed: a DNS-1123 label"),
        ({"istiolab:mesh": "demo"},
         "istiolab:mesh='demo' is not allowed: an object with keys profile, revision"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key_the_value_and_what_is_allowed(extra, expected):
    with pytest.raises(ConfigError) as err:
        parse(extra)
    assert str(err.value).startswith("Pulumi.test.yaml: ")
    assert expected in str(err.value)


def test_existing_needs_exactly_one_kubeconfig_source():
    with pytest.raises(ConfigError, match="type existing needs exactly one of kubeconfigPath"):
        sc.parse({"istiolab:cluster": {"type": "existing"}})


def test_samples_without_bookinfo_default_to_no_gateway():
    cfg = parse({"istiolab:apps": {"samples": ["httpbin", "sleep"]}})
    assert cfg.apps.gateway is None and cfg.apps.bookinfo_gateway is False
    assert not [o for o in environment_objects(cfg.env) if o["kind"] == "Gateway"]


def test_unknown_stack_file_lists_the_stacks(tmp_path):
    with pytest.raises(ConfigError) as err:
        sc.read_stack_file("nope", REPO)
    assert (
        "Pulumi.nope.yaml: no such stack file: stacks here: existing, k0s, kind, minikube"
        in str(err.value)
    )
    (tmp_path / "Pulumi.broken.yaml").write_text("config: [1, 2]\n")
    with pytest.raises(ConfigError, match="config is missing"):
        sc.read_stack_file("broken", root=tmp_path)


def test_stack_files_are_read_from_the_pulumi_project_directory(monkeypatch):
    """`pulumi` runs the program in the project directory; no source checkout is assumed."""
    monkeypatch.chdir(REPO)
    assert sc.stack_file("kind") == REPO / "Pulumi.kind.yaml"
    assert sc.read_stack_file("kind") == sc.read_stack_file("kind", REPO)
    assert (REPO / "Pulumi.yaml").is_file()
