"""The objects an environment spec stands for, grouped into numbered files in apply order:
namespaces first, then the workloads and addons, then the Istio custom resources (which need
Istio's CRDs). `istiolab render` writes these files, `istiolab up` applies the same objects to
the local mesh, and the Pulumi program deploys them (components/parts.py splits them between
its components).
"""

from __future__ import annotations

from istiolab.env.spec import NONE, EnvSpec
from istiolab.manifests import (
    ISTIO_SYSTEM,
    SAMPLE_BUILDERS,
    SAMPLES,
    addons,
    bookinfo_gateway,
    destination_rules,
    httpbin,
    namespace,
    security_preset,
    traffic_preset,
)

BOOKINFO_RULE_SERVICES = ("productpage", "reviews", "ratings", "details")


def environment_files(spec: EnvSpec | None = None) -> list[tuple[str, list[dict]]]:
    """(file name, objects) in apply order; files without objects are left out."""
    spec = spec or EnvSpec()
    apps, sec, add = spec.apps, spec.security, spec.addons
    ns = apps.namespace
    files: list[tuple[str, list[dict]]] = []

    namespaces = [namespace(ns, injection=apps.injection)]
    mesh_scoped = sec.preset == "peer-authentication" and sec.preset_params.get("scope") == "mesh"
    needs_system = add.enabled or sec.mtls != "PERMISSIVE" or mesh_scoped
    if needs_system and ns != ISTIO_SYSTEM:
        namespaces.append(namespace(ISTIO_SYSTEM, injection=False))
    if add.enabled and add.namespace not in (ns, ISTIO_SYSTEM):
        namespaces.append(namespace(add.namespace, injection=False))
    files.append(("00-namespaces.yaml", namespaces))

    for number, sample in enumerate(SAMPLES, start=10):
        if sample in apps.samples:
            if sample == "httpbin":
                objs = httpbin(ns, versions=apps.httpbin_versions)
            else:
                objs = SAMPLE_BUILDERS[sample](ns)
            files.append((f"{number}-{sample}.yaml", objs))
    if add.enabled:
        objs = addons(add.namespace, names=add.enabled, node_port=add.node_ports)
        files.append(("20-addons.yaml", objs))

    if apps.bookinfo_gateway:
        files.append(("50-istio-gateway.yaml", bookinfo_gateway(ns, hosts=apps.gateway_hosts)))
    if apps.destination_rules:
        services = list(BOOKINFO_RULE_SERVICES) if "bookinfo" in apps.samples else []
        if "httpbin" in apps.samples:
            services.append("httpbin")
        if services:
            rules = destination_rules(ns, mtls=sec.mtls == "STRICT", services=services)
            files.append(("51-istio-destination-rules.yaml", rules))
    if sec.mtls != "PERMISSIVE":
        mtls = security_preset("peer-authentication", namespace=ns, scope="mesh", mode=sec.mtls)
        files.append(("52-istio-mtls.yaml", mtls))
    if apps.traffic != NONE:
        objs = traffic_preset(apps.traffic, namespace=ns, **apps.traffic_params)
        files.append(("53-istio-traffic.yaml", objs))
        _drop_replaced(files, objs)
    if sec.preset != NONE:
        objs = security_preset(sec.preset, namespace=ns, **sec.preset_params)
        files.append(("54-istio-security.yaml", objs))
        _drop_replaced(files, objs)
    return [(name, objs) for name, objs in files if objs]


def _drop_replaced(files: list[tuple[str, list[dict]]], objs: list[dict]) -> None:
    """A preset that brings its own DestinationRule (mirror, circuit-breaker) replaces the
    default one of the same name, so the environment never holds two versions."""
    own = {_key(o) for o in objs}
    for i, (name, existing) in enumerate(files[:-1]):
        files[i] = (name, [o for o in existing if _key(o) not in own])


def _key(o: dict) -> tuple[str, str, str | None, str]:
    meta = o.get("metadata", {})
    return (o["apiVersion"].split("/")[0], o["kind"], meta.get("namespace"), meta.get("name"))


def environment_objects(spec: EnvSpec | None = None) -> list[dict]:
    """Every object of the environment, in the order `kubectl apply` needs them."""
    return [o for _, objs in environment_files(spec) for o in objs]
