"""`istiolab render` and `istiolab validate`: thin edges over istiolab.manifests."""

from __future__ import annotations

import re
from pathlib import Path

import click

from istiolab.errors import ConfigError, Finding, IstiolabError, ValidationError


class FindingsReported(ValidationError):
    """The findings were printed already; the CLI's error line is the summary."""

    def __init__(
        self, findings: list[Finding], documents: int, unreadable: list[str] | None = None
    ) -> None:
        super().__init__(findings)
        unreadable = unreadable or []
        problems = len(findings) - len(unreadable)  # in documents that could be read
        parts = [f"{problems} problem(s) found in {documents} document(s)"] if problems else []
        self.args = ("; ".join(parts + unreadable),)


def _env_spec(stack: str | None, sets: tuple[str, ...]):
    from istiolab.env import EnvSpec, apply_sets

    spec = EnvSpec()
    if stack:
        from istiolab.stack_config import env_for_stack

        spec = env_for_stack(stack)
    return apply_sets(spec, sets)


def _set_help() -> str:
    from istiolab.env import set_keys

    return (
        "Change a setting of the environment spec; repeatable. Keys: "
        + ", ".join(set_keys())
        + ". Lists are comma-separated (samples=bookinfo,httpbin; traffic.weights=90,10)."
    )


_RENDERED = re.compile(r"^\d\d-[a-z0-9-]+\.yaml$")


@click.command()
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help=_set_help(),
)
@click.option(
    "--stack",
    metavar="NAME",
    help="Start from the environment spec of Pulumi.NAME.yaml in the current directory.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write NN-<part>.yaml files into this directory.",
)
@click.option("-o", "--output", "output", metavar="-", help="'-' writes one stream to stdout.")
def render(
    sets: tuple[str, ...], stack: str | None, out_dir: Path | None, output: str | None
) -> None:
    """Write the environment's Kubernetes and Istio objects as YAML for `kubectl apply -f`.

    Namespaces come first and Istio resources (which need Istio's CRDs) last; the output
    is byte-for-byte stable for the same settings.
    """
    if (out_dir is None) == (output is None):
        raise click.UsageError("give exactly one of --out DIR or -o -")
    if output is not None and output != "-":
        raise click.UsageError(f"-o {output}: only '-' (stdout) is supported; use --out DIR")

    from istiolab.env import environment_files
    from istiolab.manifests import to_yaml, validate_objects

    files = environment_files(_env_spec(stack, sets))
    for name, objects in files:
        validate_objects(objects, source=name)
    if out_dir is None:
        click.echo(to_yaml([o for _, objects in files for o in objects]), nl=False)
        return
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = {name for name, _ in files}
        for stale in sorted(out_dir.iterdir()):
            if _RENDERED.match(stale.name) and stale.name not in wanted and stale.is_file():
                stale.unlink()  # a part this configuration no longer has
        for name, objects in files:
            (out_dir / name).write_text(to_yaml(objects), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot write: {exc}") from exc
    count = sum(len(objects) for _, objects in files)
    click.echo(f"wrote {count} objects in {len(files)} files to {out_dir}", err=True)


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="A YAML file, a directory (*.yaml, *.yml, recursively) or '-' for stdin. Repeatable.",
)
def validate(paths: tuple[str, ...]) -> None:
    """Check objects against the Kubernetes and Istio schemas and Istio's own rules.

    Prints every finding, one per line (file, document, kind/name, field, problem, hint);
    exits 1 if there is any.
    """
    from istiolab.manifests import check_documents, read_documents

    findings: list[Finding] = []
    unreadable: list[str] = []  # paths with nothing to read: the summary names them
    documents = 0
    for path in paths:
        try:
            docs, problems = read_documents(path)
        except IstiolabError as exc:
            findings.append(Finding(str(path), 0, "", "", "", str(exc)))
            click.echo(str(exc))
            missing = path != "-" and not Path(path).exists()
            unreadable.append(f"no such file or directory: {path}" if missing else str(exc))
            continue
        documents += len(docs)
        in_order = sorted(problems + check_documents(docs), key=lambda f: (f.source, f.index))
        for finding in in_order:
            findings.append(finding)
            click.echo(str(finding))
    if findings:
        raise FindingsReported(findings, documents, unreadable)
    click.echo(f"{documents} document(s) valid")
