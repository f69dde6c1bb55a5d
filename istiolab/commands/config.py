"""Local mesh config commands: apply, delete, get (kubectl-style kinds and short names).

A running mesh is changed through its control API (validate, commit, reconcile, push);
a stopped one through its persisted config store.
"""

from __future__ import annotations

import json

import click

from istiolab.commands.common import (
    mesh_client,
    open_state,
    print_change,
    state_dir_option,
    table,
)
from istiolab.errors import ConfigError, NotFoundError, ParameterError

# kubectl-style names and short names -> kind
KINDS = {
    "namespace": "Namespace",
    "ns": "Namespace",
    "deployment": "Deployment",
    "deploy": "Deployment",
    "service": "Service",
    "svc": "Service",
    "serviceaccount": "ServiceAccount",
    "sa": "ServiceAccount",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "gateway": "Gateway",
    "gw": "Gateway",
    "virtualservice": "VirtualService",
    "vs": "VirtualService",
    "destinationrule": "DestinationRule",
    "dr": "DestinationRule",
    "serviceentry": "ServiceEntry",
    "se": "ServiceEntry",
    "sidecar": "Sidecar",
    "workloadentry": "WorkloadEntry",
    "we": "WorkloadEntry",
    "peerauthentication": "PeerAuthentication",
    "pa": "PeerAuthentication",
    "authorizationpolicy": "AuthorizationPolicy",
    "ap": "AuthorizationPolicy",
    "requestauthentication": "RequestAuthentication",
    "ra": "RequestAuthentication",
    "envoyfilter": "EnvoyFilter",
    "telemetry": "Telemetry",
    "gatewayclass": "GatewayClass",
    "gc": "GatewayClass",
    "httproute": "HTTPRoute",
    "grpcroute": "GRPCRoute",
    "tcproute": "TCPRoute",
    "tlsroute": "TLSRoute",
    "referencegrant": "ReferenceGrant",
    "refgrant": "ReferenceGrant",
}
# the Gateway API's Gateway, by the names kubectl accepts for it
GATEWAY_API_WORDS = (
    "gtw",
    "gateway.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
)


def kind_of(word: str) -> str:
    if word.lower() in GATEWAY_API_WORDS:
        from istiolab.local.store import GATEWAY_API_GATEWAY

        return GATEWAY_API_GATEWAY
    key = word.lower().split(".", 1)[0]
    if key.endswith("ies") and key[:-3] + "y" in KINDS:
        key = key[:-3] + "y"
    elif key.endswith("s") and key not in KINDS and key[:-1] in KINDS:
        key = key[:-1]
    if key not in KINDS:
        allowed = sorted({v for v in KINDS.values()})
        raise ParameterError("KIND", word, "one of " + ", ".join(allowed) + " (or a short name)")
    return KINDS[key]


def _documents(path: str) -> tuple[list[dict], str, list[tuple[str, int]]]:
    """The objects under `path`, its name, and each object's (file, document index)."""
    from istiolab.manifests import load_documents

    docs = load_documents(path)
    source = "<stdin>" if path == "-" else path
    if not docs:
        raise ConfigError(f"{source}: no objects passed to apply (the input holds no documents)")
    return [d[2] for d in docs], source, [(d[0], d[1]) for d in docs]


@click.command()
@click.option("-f", "--filename", "path", required=True, help="File, directory or - (stdin).")
@click.option(
    "-n", "--namespace", default=None, help="Namespace for objects that name none (kubectl's -n)."
)
@state_dir_option
def apply(path: str, namespace: str | None, state_dir: str | None) -> None:
    """Create or update objects (validated first; nothing is applied if any is invalid)."""
    from istiolab.local.mesh import check_images

    objects, source, positions = _documents(path)
    if namespace:
        pairs = zip(objects, positions, strict=True)
        objects = [_in_namespace(o, namespace, pos) for o, pos in pairs]
    check_images(objects, positions)  # names the file and document of an unsupported image
    state = open_state(state_dir)
    client = mesh_client(state)
    if client is None:
        from istiolab.local.store import ConfigStore

        for line in ConfigStore(state.root).apply(objects, source):
            click.echo(line)
        return
    result = client.post("/apply", {"objects": objects, "source": source})
    print_change(result)


CLUSTER_KINDS = ("Namespace", "GatewayClass", "ClusterRole", "ClusterRoleBinding")


def _in_namespace(obj: dict, namespace: str, position: tuple[str, int]) -> dict:
    """kubectl apply -n: objects without a namespace get it; a different one is an error."""
    if not isinstance(obj, dict) or obj.get("kind") in CLUSTER_KINDS:
        return obj
    metadata = dict(obj.get("metadata") or {})
    found = metadata.get("namespace")
    if found and found != namespace:
        raise ConfigError(
            f"{position[0]}: document {position[1]}: the namespace from the provided object "
            f'"{found}" does not match the namespace "{namespace}". You must pass '
            "'--namespace=" + str(found) + "' to perform this operation."
        )
    metadata["namespace"] = namespace
    return {**obj, "metadata": metadata}


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "path", default=None, help="Delete the objects in a file.")
@click.option("-n", "--namespace", default="default", show_default=True)
@state_dir_option
def delete(
    kind: str | None,
    names: tuple[str, ...],
    path: str | None,
    namespace: str,
    state_dir: str | None,
) -> None:
    """Delete objects: `delete -f FILE` or `delete KIND NAME... [-n NS]`."""
    if path:
        from istiolab.local.store import store_kind

        objects, _, _ = _documents(path)
        refs = [
            {
                "kind": store_kind(o),
                "name": (o.get("metadata") or {}).get("name"),
                "namespace": (o.get("metadata") or {}).get("namespace") or namespace,
            }
            for o in objects
        ]
    elif kind and names:
        k = kind_of(kind)
        refs = [{"kind": k, "name": n, "namespace": namespace} for n in names]
    else:
        raise click.UsageError("give -f FILE, or KIND and NAME")
    state = open_state(state_dir)
    client = mesh_client(state)
    if client is None:
        from istiolab.local.store import ConfigStore

        store = ConfigStore(state.root)
        missing = []
        for r in refs:
            try:
                click.echo(store.delete(r["kind"], r["name"], r["namespace"]))
            except NotFoundError as exc:
                missing.append(str(exc))
        result: dict = {"errors": missing}
    else:
        result = client.post("/delete", {"refs": refs})
        print_change(result)
    if result.get("errors"):
        raise NotFoundError("; ".join(result["errors"]))


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "yaml", "json"]),
    default="table",
    help="wide: pods with their IP.",
)
@state_dir_option
def get(
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    state_dir: str | None,
) -> None:
    """Show stored objects (and the running mesh's pods), like kubectl get."""
    state = open_state(state_dir)
    if kind.lower() in POD_WORDS:
        _get_pods(state, name, namespace, all_namespaces, output)
        return
    k = kind_of(kind)
    ns = "*" if all_namespaces else namespace
    client = mesh_client(state)
    if client is None:
        from istiolab.local.api import get_objects
        from istiolab.local.store import ConfigStore

        found = get_objects(ConfigStore(state.root), {"kind": k, "name": name, "namespace": ns})
    else:
        found = client.get("/get", kind=k, name=name, namespace=ns)
    if output in ("table", "wide"):
        _print_table(found, all_namespaces, namespace, lambda: _summary(k, found, all_namespaces))
    else:
        _print_objects(found[0] if name else None, found, output)


POD_WORDS = ("pod", "pods", "po")


def _get_pods(state, name: str | None, namespace: str, all_ns: bool, output: str) -> None:
    from istiolab.commands.common import running_pods
    from istiolab.commands.getpods import pod_object, pod_table

    pods = [
        p
        for p in running_pods(state)
        if (all_ns or p["namespace"] == namespace) and (name is None or p["name"] == name)
    ]
    pods.sort(key=lambda p: (p["namespace"], p["name"]))
    if name is not None and not pods:
        raise NotFoundError(f'pods "{name}" not found in namespace {namespace}')
    if output in ("json", "yaml"):
        items = [pod_object(p) for p in pods]
        _print_objects(items[0] if name else None, items, output)
        return
    wide = output == "wide"
    _print_table(pods, all_ns, namespace, lambda: pod_table(pods, wide=wide, all_namespaces=all_ns))


def _print_table(found: list, all_ns: bool, namespace: str, rows) -> None:
    """kubectl: "No resources found in NS namespace." (stderr) for an empty table."""
    if not found:
        where = "" if all_ns else f" in {namespace} namespace"
        click.echo(f"No resources found{where}.", err=True)
        return
    click.echo(table(*rows()))


def _print_objects(one: dict | None, items: list[dict], output: str) -> None:
    """One object, or kubectl's List (also when nothing matched), as JSON or YAML."""
    data = (
        one
        if one is not None
        else {
            "apiVersion": "v1",
            "items": items,
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }
    )
    if output == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        from istiolab.manifests import to_yaml

        click.echo(to_yaml([data]).rstrip())


def _summary(kind: str, objects: list[dict], all_ns: bool) -> tuple[list[str], list[list]]:
    def cols(o: dict) -> list[str]:
        spec = o.get("spec") or {}
        if kind == "VirtualService":
            return [json.dumps(spec.get("gateways", [])), json.dumps(spec.get("hosts", []))]
        if kind == "DestinationRule":
            return [spec.get("host", "")]
        if kind == "Deployment":
            return [str(spec.get("replicas", 1))]
        if kind == "Service":
            ports = ",".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])
            )
            return [ports]
        return []

    extra = {
        "VirtualService": ["GATEWAYS", "HOSTS"],
        "DestinationRule": ["HOST"],
        "Deployment": ["REPLICAS"],
        "Service": ["PORT(S)"],
    }.get(kind, [])
    headers = (["NAMESPACE"] if all_ns else []) + ["NAME", *extra]
    rows = []
    for o in objects:
        meta = o.get("metadata") or {}
        ns = [meta.get("namespace") or "default"] if all_ns else []
        rows.append([*ns, meta.get("name", ""), *cols(o)])
    return headers, rows
