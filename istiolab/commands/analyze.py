"""`istiolab analyze`: what Istio's analyzers would say, before or after applying.

Analyses a mesh's config (the local mesh's store, running or not, or with --context a
cluster's objects) with the given files laid over it, as `istioctl analyze` does with the
live cluster plus `-f` files. Schema problems in the files are reported as IST0106 errors.
Exit 1 when any error is found.
"""

from __future__ import annotations

import json

import click

from istiolab.commands.common import context_option, open_backend
from istiolab.errors import IstiolabError
from istiolab.local.model import MeshSettings
from istiolab.local.registry import build_registry
from istiolab.local.translate.analysis import Analysis
from istiolab.local.translate.analysis import analyze as run_analysis
from istiolab.manifests.io import read_documents
from istiolab.manifests.validation import check_documents


class AnalysisFailed(IstiolabError):
    """At least one Error-level finding (already printed)."""


def _identity(obj: dict) -> tuple[str, str, str]:
    md = obj.get("metadata") or {}
    return str(obj.get("kind")), str(md.get("namespace") or "default"), str(md.get("name"))


def overlay(stored: list[dict], files: list[dict]) -> list[dict]:
    """The stored objects with same-identity objects replaced by the files' versions."""
    merged = {_identity(o): o for o in stored}
    merged.update({_identity(o): o for o in files})
    return list(merged.values())


@click.command()
@click.option("-f", "--filename", "paths", multiple=True, help="File, directory or - (stdin).")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None)
@context_option
@click.option(
    "--use-store/--no-use-store",
    default=True,
    show_default=True,
    help="Lay the files over the mesh's config (the local store, or --context's cluster).",
)
@click.option("-n", "--namespace", default=None, help="Report only this namespace.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def analyze(
    paths: tuple[str, ...],
    state_dir: str | None,
    context: str | None,
    use_store: bool,
    namespace: str | None,
    output: str,
) -> None:
    """Report IST-coded findings (exit 1 on errors), like `istioctl analyze`."""
    docs, problems = [], []
    for path in paths:
        d, f = read_documents(path)
        docs += d
        problems += f
    problems += check_documents(docs)
    namespaces = {(src, i): _identity(doc)[1] for src, i, doc in docs}
    results = [
        Analysis(
            "Error",
            "IST0106",
            p.kind or "-",
            p.name or "-",
            namespaces.get((p.source, p.index), "default"),
            f"Schema validation error: {p}",
        )
        for p in problems
    ]
    stored = open_backend(context, state_dir).objects() if use_store else []
    objects = overlay(stored, [doc for _, _, doc in docs]) if not problems else stored
    settings = MeshSettings()  # findings name objects, never the addresses a mesh gave them
    registry, _ = build_registry(objects, settings, {})
    results += run_analysis(objects, registry, settings)
    if context is None and use_store:  # what the local mesh's control plane could not fetch
        from istiolab.commands.common import open_state

        results += _jwks_failures(open_state(state_dir).root, objects)
    if namespace:
        results = [r for r in results if r.namespace in ("", namespace)]
    if output == "json":
        click.echo(json.dumps([r.__dict__ for r in results], indent=2))
    elif results:
        for r in results:
            click.echo(str(r))
    else:
        scope = f"namespace: {namespace}" if namespace else "all namespaces"
        click.echo(f"\N{CHECK MARK} No validation issues found when analyzing {scope}.")
    errors = sum(r.level == "Error" for r in results)
    if errors:
        raise AnalysisFailed(f"analysis found {errors} error(s)")


def _jwks_failures(state_root, objects: list[dict]) -> list[Analysis]:
    """ISTL0103: jwksUri key sets the running mesh's control plane could not fetch."""
    from istiolab.local.jwksfetch import recorded_failures

    present = {
        (str((o.get("metadata") or {}).get("namespace") or "default"), o["metadata"]["name"])
        for o in objects
        if o.get("kind") == "RequestAuthentication"
    }
    return [
        Analysis(
            "Error",
            "ISTL0103",
            "RequestAuthentication",
            f.name,
            f.namespace,
            f.finding().split(") ", 1)[1],
        )
        for f in recorded_failures(state_root)
        if (f.namespace, f.name) in present
    ]
