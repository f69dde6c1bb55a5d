"""Config commands: apply, delete, get (kubectl-style kinds and short names), on the local
mesh (running: through its control API; stopped: its persisted store) or, with --context, a
cluster through the Kubernetes API. Both go through :mod:`istiolab.backends`.
"""

from __future__ import annotations

import json
from dataclasses import replace

import click

from istiolab.commands.common import (
    context_option,
    open_backend,
    print_change,
    state_dir_option,
    table,
)
from istiolab.errors import ConfigError, Finding, NotFoundError, ValidationError

# the Gateway API's Gateway, by the names kubectl accepts for it (stored under a qualified
# kind so it never replaces an Istio Gateway of the same name)
GATEWAY_API_WORDS = (
    "gtw",
    "gateway.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
)


def kind_of(word: str) -> str:
    """The kind a kubectl-style word names (``vs``, ``virtualservices``, ...)."""
    from istiolab.manifests.kinds import kind_info

    if word.lower() in GATEWAY_API_WORDS:
        from istiolab.local.store import GATEWAY_API_GATEWAY

        return GATEWAY_API_GATEWAY
    return kind_info(word).kind


def _documents(paths: tuple[str, ...]) -> tuple[list[dict], str, list[tuple[str, int]]]:
    """The objects under every path (in order), a name for them all, and each object's
    (file, document index). Every document is checked first, naming its file and index:
    nothing is applied when any is invalid."""
    from istiolab.manifests import load_documents
    from istiolab.manifests.validation import check_documents

    # as kubectl sends them: JSON, so YAML's integer keys (portLevelMtls: {8080: ...}) are strings
    docs = [(f, i, json.loads(json.dumps(o))) for path in paths for f, i, o in load_documents(path)]
    source = ", ".join("<stdin>" if p == "-" else p for p in paths)
    if not docs:
        raise ConfigError(f"{source}: no objects passed to apply (the input holds no documents)")
    findings = check_documents(docs)
    if findings:
        raise ValidationError(findings)
    return [d[2] for d in docs], source, [(d[0], d[1]) for d in docs]


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    help="File, directory or - (stdin); repeat to apply several together.",
)
@click.option(
    "-n", "--namespace", default=None, help="Namespace for objects that name none (kubectl's -n)."
)
@state_dir_option
@context_option
def apply(
    paths: tuple[str, ...], namespace: str | None, state_dir: str | None, context: str | None
) -> None:
    """Create or update objects (validated first; nothing is applied if any is invalid)."""
    objects, source, positions = _documents(paths)
    if namespace:
        pairs = zip(objects, positions, strict=True)
        objects = [_in_namespace(o, namespace, pos) for o, pos in pairs]
    backend = open_backend(context, state_dir)
    backend.check_supported(objects, positions)  # names the file and document
    try:
        result = backend.apply(objects, source)
    except ValidationError as exc:
        raise ValidationError([_at(f, source, positions) for f in exc.findings]) from None
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


def _at(finding: Finding, source: str, positions: list[tuple[str, int]]) -> Finding:
    """A finding of the applied batch, named by its file and document (a directory, or a
    List, holds several)."""
    if finding.source != source or not 0 <= finding.index < len(positions):
        return finding
    file, index = positions[finding.index]
    return replace(finding, source=file, index=index)


@click.command()
@click.argument("kind", required=False)
@click.argument("names", nargs=-1)
@click.option(
    "-f", "--filename", "paths", multiple=True, help="Delete the objects in a file (repeatable)."
)
@click.option("-n", "--namespace", default="default", show_default=True)
@state_dir_option
@context_option
def delete(
    kind: str | None,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    namespace: str,
    state_dir: str | None,
    context: str | None,
) -> None:
    """Delete objects: `delete -f FILE` or `delete KIND NAME... [-n NS]`."""
    if paths:
        objects, _, _ = _documents(paths)
        from istiolab.local.store import store_kind

        refs = [
            (
                store_kind(o),
                str((o.get("metadata") or {}).get("name")),
                (o.get("metadata") or {}).get("namespace") or namespace,
            )
            for o in objects
        ]
    elif kind and names:
        k = kind_of(kind)
        refs = [(k, n, namespace) for n in names]
    else:
        raise click.UsageError("give -f FILE, or KIND and NAME")
    result = open_backend(context, state_dir).delete(refs)
    print_change(result)
    if result.warnings:
        raise NotFoundError("; ".join(result.warnings))


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
@context_option
def get(
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    state_dir: str | None,
    context: str | None,
) -> None:
    """Show stored objects (and the running mesh's pods), like kubectl get."""
    backend = open_backend(context, state_dir)
    if kind.lower() in POD_WORDS:
        _get_pods(backend, name, namespace, all_namespaces, output)
        return
    k = kind_of(kind)
    found = backend.get(k, name, None if all_namespaces else namespace)
    if output in ("table", "wide"):
        _print_table(found, all_namespaces, namespace, lambda: _summary(k, found, all_namespaces))
    else:
        _print_objects(found[0] if name else None, found, output)


POD_WORDS = ("pod", "pods", "po")


def _get_pods(backend, name: str | None, namespace: str, all_ns: bool, output: str) -> None:
    from istiolab.commands.getpods import pod_table

    if output in ("json", "yaml"):
        items = backend.get("Pod", name, None if all_ns else namespace)
        items.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
        _print_objects(items[0] if name else None, items, output)
        return
    pods = [
        p for p in backend.pods(None if all_ns else namespace) if name is None or p.name == name
    ]
    pods.sort(key=lambda p: (p.namespace, p.name))
    if name is not None and not pods:
        raise NotFoundError(f'pods "{name}" not found in namespace {namespace}')
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
