"""The lab format: every lab of the library loads; an authoring mistake is one ConfigError
naming the file and the field; the library is found without a source checkout."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from istiolab.errors import ConfigError, NotFoundError
from istiolab.labs import format as labformat
from istiolab.labs.checks import TYPES

MINIMAL = """\
title: T
goal: G
minutes: 5
source: S
tasks:
  - title: one
    instructions: Do it.
    checks:
      - id: c1
        type: object
        description: a VirtualService for reviews
        kind: VirtualService
        host: reviews
    solution:
      apply: [solution.yaml]
"""
SOLUTION = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"


def make_lab(tmp_path: Path, text: str, name: str = "01-demo") -> Path:
    lab = tmp_path / name
    lab.mkdir(parents=True)
    (lab / "lab.yaml").write_text(textwrap.dedent(text))
    (lab / "solution.yaml").write_text(SOLUTION)
    (tmp_path.parent / "etc.yaml").write_text(SOLUTION)  # a file outside the library
    return lab


def test_the_library_loads_and_covers_the_issue():
    root = labformat.labs_root()
    labs = labformat.load_library(root)
    assert len(labs) >= 15
    used = {c.type for lab in labs for t in lab.tasks for c in t.checks}
    assert used >= set(TYPES) - {"validates"}, set(TYPES) - used
    for lab in labs:
        for required in lab.requires:
            labformat.find_lab(root, required)  # prerequisites name real labs
        assert lab.solution_objects(), lab.name


def test_the_library_is_package_data_not_a_checkout_path(monkeypatch, tmp_path):
    root = labformat.labs_root()
    assert root.parent.name == "labs" and root.parent.parent.name == "istiolab"
    copy = tmp_path / "mylabs"
    shutil.copytree(root / "02-request-routing", copy / "02-request-routing")
    shutil.copytree(root / "03-fault-injection", copy / "03-fault-injection")
    monkeypatch.setenv(labformat.LABS_DIR_ENV, str(copy))
    assert labformat.lab_names(labformat.labs_root()) == [
        "02-request-routing",
        "03-fault-injection",
    ]
    with pytest.raises(ConfigError, match="does not exist"):
        labformat.labs_root(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["02", "2", "request-routing", "02-request-routing"])
def test_find_by_number_or_slug(name):
    assert labformat.find_lab(labformat.labs_root(), name).name == "02-request-routing"


def test_unknown_lab_names_the_labs():
    with pytest.raises(NotFoundError, match="01-install-tour"):
        labformat.find_lab(labformat.labs_root(), "99")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("minutes: 5", "minutes: five"), "minutes: 'five' has the wrong type"),
        (("goal: G\n", "goal: G\ncolour: red\n"), "colour: unknown field"),
        (
            ("type: object", "type: objects"),
            "tasks[0].checks[0].type: 'objects' is not a check type",
        ),
        (
            ("        host: reviews\n", "        hots: reviews\n"),
            "tasks[0].checks[0].hots: unknown field",
        ),
        (
            ("        kind: VirtualService\n", ""),
            "tasks[0].checks[0].kind: required for a object check",
        ),
        (("id: c1", "id: ''"), "tasks[0].checks[0].id: required"),
        (
            ("apply: [solution.yaml]", "apply: [missing.yaml]"),
            "tasks[0].solution.apply[0]: 'missing.yaml': no such file",
        ),
        (("apply: [solution.yaml]", "apply: [../../etc.yaml]"), "outside the lab library"),
        (
            ("instructions: Do it.", "instructions: steps.md"),
            "tasks[0].instructions: 'steps.md': no such file",
        ),
        (("title: one", "title: [one"), "not valid YAML"),
        (
            ("apply: [solution.yaml]", "commands: [curl x]"),
            "tasks[0].solution: required: apply (files), delete or restart (commands alone",
        ),
        (
            (
                "type: object\n        description: a VirtualService for reviews\n"
                "        kind: VirtualService\n        host: reviews\n",
                "type: graph\n        description: d\n        edges: [reviews]\n",
            ),
            "tasks[0].checks[0].edges[0]: 'reviews': an edge is 'A -> B'",
        ),
        (
            ("type: object\n", "type: loadrun\n        scenario: circuit-breaker\n"),
            "tasks[0].checks[0].kind: unknown field for a loadrun check",
        ),
    ],
)
def test_authoring_errors_name_file_and_field(tmp_path, change, message):
    lab = make_lab(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as err:
        labformat.load_lab(lab)
    assert str(lab / "lab.yaml") in str(err.value)
    assert message in str(err.value)


def test_check_vocabulary_errors(tmp_path):
    text = MINIMAL.replace(
        "        kind: VirtualService\n        host: reviews\n",
        "        kind: VirtualService\n        initially: maybe\n",
    )
    text = text.replace(
        "      - id: c1",
        "      - id: c2\n        type: log\n        description: d\n"
        "        workload: w\n        flag: XX\n      - id: c1",
    )
    lab = make_lab(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        labformat.load_lab(lab)
    assert "tasks[0].checks[0].flag: 'XX': one of UO" in str(err.value)
    assert "(+1 more)" in str(err.value)  # initially: maybe


def test_a_looking_task_may_have_commands_alone(tmp_path):
    text = MINIMAL.replace("apply: [solution.yaml]", "commands: [curl x]")
    text = text.replace(
        "        host: reviews\n", "        host: reviews\n        initially: pass\n"
    )
    [task] = labformat.load_lab(make_lab(tmp_path, text)).tasks
    assert task.solution.apply == () and task.solution.commands == ("curl x",)


def test_a_minimal_lab_loads(tmp_path):
    lab = labformat.load_lab(make_lab(tmp_path, MINIMAL))
    assert lab.name == "01-demo" and lab.number == 1
    [task] = lab.tasks
    assert task.checks[0].initially == "fail"
    assert lab.solution_objects() == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    ]
    with pytest.raises(NotFoundError, match=r"tasks 1\.\.1"):
        lab.task(2)


def test_package_data_ships_every_lab_file():
    """pyproject's package-data patterns for istiolab.labs cover every file of the library,
    so an installed istiolab (a wheel, no checkout) has all the labs."""
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    config = tomllib.loads((repo / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["istiolab.labs"]
    package = repo / "istiolab" / "labs"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    library = {p for p in (package / "library").rglob("*") if p.is_file()}
    assert library and library <= shipped, sorted(str(p) for p in library - shipped)


def test_the_readme_example_is_a_valid_lab(tmp_path):
    """labs/README.md's small complete example loads as written."""
    import re

    readme = (labformat.labs_root() / "README.md").read_text()
    blocks = re.findall(r"`(labs/90-reviews-v3/[^`]+)`:\n\n```yaml\n(.*?)\n```\n", readme, re.S)
    assert [path for path, _ in blocks] == [
        "labs/90-reviews-v3/lab.yaml",
        "labs/90-reviews-v3/solution/reviews-v3.yaml",
    ]
    for path, text in blocks:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")
    lab = labformat.load_lab(tmp_path / "labs" / "90-reviews-v3")
    assert [c.id for c in lab.tasks[0].checks] == ["route-v3", "red-stars"]
    assert lab.solution_objects()[0]["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v3"
