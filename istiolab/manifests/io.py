"""YAML in and out: deterministic multi-document output, and loading of files, directories
and stdin with errors that name the file and line."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from istiolab.errors import Finding, NotFoundError, ValidationError

YAML_SUFFIXES = (".yaml", ".yml")
STDIN = "-"
# Bounds on one document, as an API server has them: nesting depth, and the number of values
# once aliases are expanded (a "billion laughs" alias bomb is tiny as text, huge expanded).
MAX_DEPTH = 100
MAX_VALUES = 1_000_000

try:  # libyaml when present: same output, much faster
    _BaseLoader: Any = yaml.CSafeLoader
    _BaseDumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader
    _BaseDumper = yaml.SafeDumper


class _Loader(_BaseLoader):
    """Safe loading that refuses duplicate keys, as the Kubernetes API server does
    (PyYAML would silently keep the last one, hiding half of what the user wrote)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[tuple[str, str], yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # merge keys (<<) may be overridden; complex keys are left to PyYAML
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                first = seen[ident].start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r} (first defined on line {first})",
                    key_node.start_mark,
                )
            seen[ident] = key_node
        return super().construct_mapping(node, deep=deep)


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:  # never &id001 anchors
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = (
        "|"
        if "\n" in value and not any(line != line.rstrip() for line in value.split("\n"))
        else None
    )
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objects: Iterable[dict] | dict) -> str:
    """Multi-document YAML, keys in the objects' own order: the same input gives the same
    bytes. Empty input gives an empty string."""
    if isinstance(objects, dict):
        objects = [objects]
    docs = [
        yaml.dump(
            o,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
        for o in objects
    ]
    return "---\n".join(docs)


@dataclass(frozen=True)
class YamlFinding(Finding):
    """A file that is not valid YAML (or not a Kubernetes object): named by file and line."""

    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}:{self.column}" if self.line else self.source
        return f"{where}: document {self.index}: {self.message}"


Document = tuple[str, int, dict]


def read_documents(path: str | Path) -> tuple[list[Document], list[Finding]]:
    """The documents of a file, a directory (*.yaml/*.yml, recursively, sorted) or stdin
    ("-"), plus the findings for the parts that are not YAML mappings."""
    if str(path) == STDIN:
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        if isinstance(data, str):
            return parse_yaml(data, "<stdin>")
        try:
            return parse_yaml(data.decode("utf-8"), "<stdin>")
        except UnicodeDecodeError as exc:
            message = f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
            return [], [YamlFinding("<stdin>", 0, "", "", "", message)]
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file())
        if not files:
            raise NotFoundError(f"{path}: no *.yaml or *.yml files in this directory")
    elif p.is_file():
        files = [p]
    else:
        raise NotFoundError(f"{path}: no such file or directory")
    docs: list[Document] = []
    findings: list[Finding] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            findings.append(YamlFinding(str(f), 0, "", "", "", f"cannot read file: {exc}"))
            continue
        d, fi = parse_yaml(text, str(f))
        docs += d
        findings += fi
    return docs, findings


def parse_yaml(text: str, source: str) -> tuple[list[Document], list[Finding]]:
    docs: list[Document] = []
    findings: list[Finding] = []
    seen = 0  # documents parsed so far: the index of the one a syntax error is in
    try:
        for doc in yaml.load_all(text, Loader=_Loader):
            index, seen = seen, seen + 1
            if doc is None:
                continue
            problem = _oversized(doc)
            if problem:
                findings.append(YamlFinding(source, index, "", "", "", problem))
                continue
            if not isinstance(doc, dict):
                findings.append(
                    YamlFinding(
                        source,
                        index,
                        "",
                        "",
                        "",
                        f"document is a {type(doc).__name__}, not a Kubernetes object (a mapping "
                        "with apiVersion, kind and metadata)",
                    )
                )
                continue
            if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                for i, item in enumerate(doc["items"]):
                    if isinstance(item, dict):
                        docs.append((source, index, item))
                    else:
                        what = type(item).__name__
                        message = (
                            f"items[{i}] is {'an' if what[0] in 'aeiou' else 'a'} {what}, "
                            "not a Kubernetes object "
                            "(a mapping with apiVersion, kind and metadata)"
                        )
                        findings.append(YamlFinding(source, index, "", "", "", message))
            else:
                docs.append((source, index, doc))
    except RecursionError:
        message = f"invalid YAML: nested too deeply (more than {MAX_DEPTH} levels)"
        findings.append(YamlFinding(source, seen, "", "", "", message))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        findings.append(YamlFinding(source, seen, "", "", "", message, line=line, column=column))
    return docs, findings


def _oversized(doc: Any) -> str:
    """Why a loaded document is refused for its shape ("" when it is fine): deeper than
    MAX_DEPTH, or more than MAX_VALUES values with aliases expanded. Iterative and bounded:
    shared (aliased) values are walked again, so counting stops at the limit."""
    stack = [(doc, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return (
                f"refused: more than {MAX_VALUES} values once YAML aliases are expanded "
                "(an alias bomb?); write the values out or split the document"
            )
        if depth > MAX_DEPTH:
            return f"refused: nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return ""


def load_documents(path: str | Path) -> list[Document]:
    """(source, index, object) for every document under `path` (file, directory or "-").
    Raises ValidationError naming file and line if any part is not valid YAML."""
    docs, findings = read_documents(path)
    if findings:
        raise ValidationError(findings)
    return docs
