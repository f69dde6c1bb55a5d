"""Lab lifecycle on a mesh, through the backend: bring up the lab's environment, apply its start
state, apply a task's solution, clean up, and the self-test that proves every lab's checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from istiolab.backends import Backend
from istiolab.errors import IstiolabError
from istiolab.labs.checks import CheckResult
from istiolab.labs.format import Lab
from istiolab.labs.runner import Runner

SELFTEST_PATIENCE = 30.0  # seconds a solution's check may take to turn green in the self-test


def _ref(obj: dict) -> tuple[str, str, str]:
    md = obj.get("metadata") or {}
    return str(obj["kind"]), str(md["name"]), str(md.get("namespace") or "default")


def environment_objects(lab: Lab) -> list[dict]:
    """The namespaces and samples a lab needs (built by istiolab.manifests)."""
    from istiolab import manifests

    out = [manifests.namespace(ns, injection=inj) for ns, inj in lab.environment.namespaces.items()]
    for sample in lab.environment.samples:
        name, _, ns = sample.partition(".")
        ns = ns or "default"
        if name == "httpbin":
            out += manifests.httpbin(ns, versions=("v1", "v2"))
        elif name == "bookinfo-gateway":
            out += manifests.bookinfo_gateway(ns)
        elif name == "destination-rules":
            out += manifests.destination_rules(ns)
        else:
            out += manifests.SAMPLE_BUILDERS[name](ns)
    return out


def _present(backend: Backend, refs: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The refs that exist (in order, once each); one list call per kind and namespace."""
    out, seen, listed = [], set(), {}
    for ref in refs:
        kind, name, ns = ref
        if ref in seen:
            continue
        seen.add(ref)
        if (kind, ns) not in listed:
            items = backend.get(kind, None, ns or None)
            listed[(kind, ns)] = {o["metadata"]["name"] for o in items}
        if name in listed[(kind, ns)]:
            out.append(ref)
    return out


def cleanup(backend: Backend, lab: Lab) -> list[tuple[str, str, str]]:
    """Remove what the lab's start state and solutions create and every object of the
    lab's cleanup kinds (whatever the learner named them); the environment stays."""
    refs = [_ref(o) for o in lab.start_objects() + lab.solution_objects()]
    refs = [r for r in refs if r[0] != "Namespace"]
    for kind in lab.cleanup.kinds:
        for ns in lab.cleanup.namespaces:
            refs += [_ref({**o, "kind": kind}) for o in backend.get(kind, None, ns)]
    own = set(lab.environment.namespaces) - {"default"}
    env = environment_objects(lab)
    keep = {_ref(o) for o in env if _ref(o)[2] not in own and o["kind"] != "Namespace"}
    # the lab's own namespaces go too: their workloads first, then the namespaces
    refs += [_ref(o) for o in env if o["kind"] != "Namespace" and _ref(o)[2] in own]
    refs += [("Namespace", ns, "") for ns in sorted(own)]
    present = [r for r in _present(backend, refs) if r not in keep]
    if present:
        backend.delete(present)
        backend.wait_converged()
    return present


def start(backend: Backend, lab: Lab) -> None:
    """Environment, clean slate, start state; returns once the proxies have the config."""
    cleanup(backend, lab)
    backend.apply(environment_objects(lab), source=f"{lab.name} environment")
    objects = lab.start_objects()
    if objects:
        backend.apply(objects, source=f"{lab.name}/start")
    backend.wait_ready(120.0)
    backend.wait_converged()


def solve(backend: Backend, lab: Lab, task: int) -> None:
    """Apply task `task`'s solution (deletes first, then its files)."""
    t = lab.task(task)
    present = _present(backend, list(t.solution.delete))
    if present:
        backend.delete(present)
    objects = lab.objects(t.solution.apply)
    if objects:
        backend.apply(objects, source=f"{lab.name}/task {task} solution")
    for ns in t.solution.restart:
        rollout_restart(backend, ns)
    backend.wait_ready(120.0)
    backend.wait_converged()


def rollout_restart(backend: Backend, namespace: str) -> None:
    """``kubectl rollout restart deployment -n NS``: a new restartedAt annotation on every
    Deployment's pod template, so each is replaced by new pods (which get injected)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    deployments = backend.get("Deployment", None, namespace)
    for dep in deployments:
        template = dep.setdefault("spec", {}).setdefault("template", {})
        annotations = template.setdefault("metadata", {}).setdefault("annotations", {})
        annotations["kubectl.kubernetes.io/restartedAt"] = stamp
        for key in ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields"):
            dep.get("metadata", {}).pop(key, None)
        dep.pop("status", None)
    if deployments:
        backend.apply(deployments, source=f"rollout restart -n {namespace}")


@dataclass
class SelfTest:
    lab: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems


def selftest(
    backend: Backend,
    lab: Lab,
    *,
    patience: float = SELFTEST_PATIENCE,
    progress: Callable[[str], None] = lambda _: None,
) -> SelfTest:
    """Start state -> every check as declared (``initially``) -> each task's solution -> that
    task's checks all pass -> cleanup. Problems name the task, check and what was measured."""
    began = time.monotonic()
    report = SelfTest(lab.name)
    try:
        progress(f"{lab.name}: start state")
        start(backend, lab)
        quick = Runner(backend, patience=0, base=lab.path)
        for task in lab.tasks:
            for check, result in zip(task.checks, quick.run_task(task), strict=True):
                want = check.initially == "pass"
                if result.passed != want:
                    report.problems.append(
                        f"{lab.name} task {task.number} check {check.id}: on the start state "
                        f"it should {check.initially} but it "
                        f"{'passed' if result.passed else 'failed'} ({result.measured})"
                    )
        patient = Runner(backend, patience=patience, base=lab.path)
        for task in lab.tasks:
            progress(f"{lab.name}: task {task.number} solution")
            solve(backend, lab, task.number)
            for result in patient.run_task(task):
                if not result.passed:
                    report.problems.append(
                        f"{lab.name} task {task.number} check {result.id}: fails on the solution:"
                        f" expected {result.expected}, measured {result.measured}"
                    )
    except IstiolabError as exc:  # a start state or solution the mesh refuses: a lab bug
        report.problems.append(f"{lab.name}: {exc}")
    finally:
        progress(f"{lab.name}: cleanup")
        cleanup(backend, lab)
        report.seconds = time.monotonic() - began
    return report


def summary(results: dict[int, list[CheckResult]]) -> tuple[list[int], int]:
    """(tasks whose checks all pass, total checks failing)."""
    passed = [n for n, rs in results.items() if all(r.passed for r in rs)]
    failing = sum(not r.passed for rs in results.values() for r in rs)
    return passed, failing


def config_fingerprint(backend: Backend, lab: Lab) -> str:
    """What a learner changes between checks: the objects of the kinds the lab's checks and
    cleanup read (cheap to read; the watchers re-run the checks when it changes)."""
    import json

    kinds = {ch.params["kind"] for t in lab.tasks for ch in t.checks if ch.type == "object"}
    kinds |= set(lab.cleanup.kinds)
    seen = []
    for kind in sorted(kinds):
        for o in backend.get(kind, None, None):
            md = o.get("metadata") or {}
            seen.append(
                f"{kind}/{md.get('namespace')}/{md.get('name')}/{md.get('resourceVersion')}"
            )
            if not md.get("resourceVersion"):
                seen.append(json.dumps(o.get("spec"), sort_keys=True))
    return "\n".join(sorted(seen))
