"""The real Istio 1.30.3 Helm charts rendered with the values each example stack passes.

For kind, minikube, k0s and existing: the charts' schemas accept the values (the Helm inside
pulumi-kubernetes refused the old gateway chart's), every rendered object passes
kubernetes-validate strict for the stack's Kubernetes version, the ingress gateway Service has
the type and NodePorts the stack's URLs rely on; with a revision, `istio-injection=enabled`
still selects an injection webhook; the sizing model's Istio figures are the rendered requests.
"""

from __future__ import annotations

import functools

import pytest
from charts import charts_dir, kubernetes_errors, render
from pulumi_harness import REPO, STACKS

from components.existing_cluster import ExistingCluster
from components.k0s_cluster import K0sCluster
from components.kind_cluster import KindCluster, KindClusterArgs, kind_config
from components.minikube_cluster import MinikubeCluster
from components.program import istio_install
from istiolab import chart_requests, sizing, stack_config, versions
from istiolab.istio_install import IstioInstall, releases

CLUSTERS = {
    "kind": KindCluster,
    "minikube": MinikubeCluster,
    "k0s": K0sCluster,
    "existing": ExistingCluster,
}
# what each stack's outputs promise about the ingress gateway
PROMISED = {
    "kind": ("NodePort", {"http2": 30080, "https": 30443}),
    "minikube": ("NodePort", {"http2": 30080, "https": 30443}),
    "k0s": ("NodePort", {"http2": 30080, "https": 30443}),  # no LB controller on bare metal
    "existing": ("LoadBalancer", {}),  # Kubernetes picks free NodePorts on a shared cluster
}


@functools.cache
def stack_renders(stack: str) -> dict[str, list[dict]]:
    cfg = stack_config.read_stack_file(stack, REPO)
    install = istio_install(cfg, CLUSTERS[cfg.cluster.type].gateway_service_type)
    return {r.name: render(r) for r in releases(install)}


def by_kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_values_render_valid_kubernetes_objects(stack):
    cfg = stack_config.read_stack_file(stack, REPO)
    minor = versions.KUBERNETES_MINOR[cfg.cluster.type]
    renders = stack_renders(stack)  # schema errors raise HelmValuesError here
    assert set(renders) >= {"istio-base", "istiod", "istio-ingressgateway"}
    for release, objs in renders.items():
        assert objs, release
        assert kubernetes_errors(objs, minor) == [], release


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_service_is_what_the_stack_promises(stack):
    service_type, node_ports = PROMISED[stack]
    (service,) = by_kind(stack_renders(stack)["istio-ingressgateway"], "Service")
    assert service["spec"]["type"] == service_type
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert (ports["http2"]["port"], ports["https"]["port"]) == (80, 443)
    assert {n: p["nodePort"] for n, p in ports.items() if "nodePort" in p} == node_ports
    if stack == "kind":  # the kind config maps the same NodePorts to 127.0.0.1
        mapped = {m["containerPort"] for m in kind_config(KindClusterArgs())["nodes"][0][
            "extraPortMappings"]}  # fmt: skip
        assert set(node_ports.values()) <= mapped


@pytest.mark.parametrize("stack", STACKS)
def test_no_autoscaler_and_the_profile_requests(stack):
    cfg = stack_config.read_stack_file(stack, REPO)
    for release, objs in stack_renders(stack).items():
        assert not by_kind(objs, "HorizontalPodAutoscaler"), release
        requests = chart_requests.deployment_requests(objs)
        if release.startswith("istio-") and release.endswith("gateway"):
            (figures,) = requests.values()
            want = sizing.GATEWAY[cfg.mesh.profile]
            assert figures == (want.cpu_m, want.memory_mi), release


def test_demo_gateways_request_the_demo_profile_figures():
    install = IstioInstall(profile="demo", egress_gateway=True)
    for r in releases(install)[2:]:
        assert chart_requests.deployment_requests(render(r))[r.name] == (10, 40)


def _selects(selector: dict, labels: dict) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against `labels`."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _injecting_webhooks(objs: list[dict], ns_labels: dict, pod_labels: dict) -> list[str]:
    out = []
    for mwc in by_kind(objs, "MutatingWebhookConfiguration"):
        for hook in mwc.get("webhooks") or []:
            if _selects(hook.get("namespaceSelector") or {}, ns_labels) and _selects(
                hook.get("objectSelector") or {}, pod_labels
            ):
                out.append(f"{mwc['metadata']['name']}/{hook['name']}")
    return out


@pytest.mark.parametrize("revision", ["", "1-30-3"])
def test_istio_injection_enabled_still_injects_with_a_revision(revision):
    (istiod,) = [r for r in releases(IstioInstall(revision=revision)) if r.chart == "istiod"]
    objs = render(istiod)
    assert _injecting_webhooks(objs, {"istio-injection": "enabled"}, {"app": "productpage"})
    # and a namespace without the label is left alone
    assert not _injecting_webhooks(objs, {"kubernetes.io/metadata.name": "x"}, {"app": "a"})


def test_without_the_revision_tag_nothing_injects():
    """The check above can fail: istiod with a revision alone matches no labelled namespace."""
    (istiod,) = [r for r in releases(IstioInstall(revision="1-30-3")) if r.chart == "istiod"]
    values = {k: v for k, v in istiod.values.items() if k != "revisionTags"}
    objs = render(type(istiod)(istiod.name, istiod.chart, values))
    assert not _injecting_webhooks(objs, {"istio-injection": "enabled"}, {"app": "productpage"})


def test_sizing_figures_are_the_rendered_requests():
    assert chart_requests.generate(charts_dir()) == chart_requests.load(), (
        "istiolab/istio_requests.json differs from the charts: regenerate it with "
        "python -m istiolab.chart_requests " + str(charts_dir())
    )
    data = chart_requests.load()
    for profile in ("default", "demo"):
        for pod, model in (("istiod", sizing.ISTIOD), ("gateway", sizing.GATEWAY),
                           ("sidecar", sizing.SIDECAR)):  # fmt: skip
            figures = data[profile][pod]
            assert (model[profile].cpu_m, model[profile].memory_mi) == (
                figures["cpu_m"], figures["memory_mi"])  # fmt: skip


def test_the_charts_are_the_pinned_release():
    import yaml

    for chart in ("base", "istiod", "gateway"):
        meta = yaml.safe_load((charts_dir() / chart / "Chart.yaml").read_text())
        assert meta["version"] == versions.ISTIO_VERSION, chart


def test_the_strict_check_reports_unknown_fields():
    objs = render(releases(IstioInstall())[2])
    (deployment,) = by_kind(objs, "Deployment")
    deployment["spec"]["replicaz"] = 1
    assert any("replicaz" in e for e in kubernetes_errors(objs, "1.36"))


@pytest.mark.parametrize("stack", STACKS)
def test_the_stacks_own_objects_are_valid_for_its_kubernetes(stack):
    """Samples and addons too (Istio's custom resources are checked by `validate`)."""
    from istiolab.env import environment_objects
    from istiolab.manifests.validation import kube

    cfg = stack_config.read_stack_file(stack, REPO)
    objs = [
        o for o in environment_objects(cfg.env) if kube.is_kubernetes(o["apiVersion"], o["kind"])
    ]
    assert objs
    assert kubernetes_errors(objs, versions.KUBERNETES_MINOR[cfg.cluster.type]) == []
