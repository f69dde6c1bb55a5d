"""Run a scenario headless through Locust's Python API and judge it.

One attempt: read the proxies' counters, run Locust (``Environment`` + ``LocalRunner``) until
the request budget is spent or the duration is over (or an ``abort after`` expectation has
failed for that long), read the counters and the access-log flags again, build the
:class:`~istiolab.load.result.Result` and judge every expectation. A failing expectation
with ``retries N`` gets up to N fresh attempts; any other failure is final. Importing this
module imports Locust, which monkey-patches the process for gevent.
"""

from __future__ import annotations

import os
import platform
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import gevent
from gevent.event import Event
from locust import constant
from locust.env import Environment

from istiolab.backends import Backend
from istiolab.errors import MeshError, ParameterError
from istiolab.load import expect
from istiolab.load.probes import GATEWAY, Watch
from istiolab.load.result import Result, Sample
from istiolab.load.scenario import Scenario, stats_regex
from istiolab.load.user import Egress, Recorder


@dataclass(frozen=True)
class Plan:
    """How to run a scenario (the scenario's defaults overridden by the command line)."""

    target: str
    source: str | None
    users: int
    spawn_rate: float
    requests: int | None
    duration: float | None
    lockstep: bool = False
    rate: float | None = None  # fixed arrival rate (requests/s, evenly spaced), None: max
    seed: int | None = None

    def describe(self) -> str:
        amount = f"{self.requests} requests" if self.requests else f"{self.duration:g} s"
        where = f"from {self.source}" if self.source else "from this machine"
        rate = f" at {self.rate:g} rps" if self.rate else ""
        return f"{self.users} users, {amount}{rate}, {where} to {self.target}"


def plan_for(scenario: Scenario, **overrides) -> Plan:
    plan = Plan(
        target=scenario.target,
        source=scenario.source,
        users=scenario.users,
        spawn_rate=scenario.spawn_rate,
        requests=scenario.requests,
        duration=scenario.duration,
        lockstep=scenario.lockstep,
    )
    given = {k: v for k, v in overrides.items() if v is not None}
    if "requests" in given:
        given["duration"] = None
    elif "duration" in given:
        given["requests"] = None
    plan = replace(plan, **given)
    if not plan.target:
        raise ParameterError("--target", plan.target, "a URL (the scenario names no TARGET)")
    if plan.users < 1:
        raise ParameterError("--users", plan.users, "1 or more")
    return plan


def resolve(plan: Plan, backend: Backend) -> Plan:
    """``TARGET = "gateway"`` is the mesh's ingress gateway URL."""
    if plan.target == "gateway":
        return replace(plan, target=backend.gateway_url())
    return plan


class Rounds:
    """Users send in rounds: each waits until all ``parties`` are ready, then all send at once
    (a cyclic barrier on gevent; a round that never fills is released after ``timeout``)."""

    def __init__(self, parties: int, timeout: float = 1.0) -> None:
        self.parties, self.timeout = parties, timeout
        self.waiting = 0
        self.event = Event()

    def wait(self) -> None:
        event = self.event
        self.waiting += 1
        if self.waiting >= self.parties:
            self.waiting = 0
            self.event = Event()
            event.set()
            return
        event.wait(self.timeout)


class Pacer:
    """Even arrivals at ``rate`` per second across all users (fortio's ``-uniform``)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.perf_counter()

    def wait(self) -> None:
        slot, self.next = self.next, max(self.next + self.interval, time.perf_counter())
        delay = slot - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)


class Breach:
    """Early abort: expectations with ``abort after T`` are judged on the samples so far once
    a second; one that has failed for T seconds in a row stops the run (a grace period)."""

    def __init__(self, expectations: list[expect.Expectation]) -> None:
        self.expectations = expectations
        self.since: float | None = None
        self.next_check = 1.0

    def check(self, recorder: Recorder, elapsed: float) -> str:
        if not self.expectations or elapsed < self.next_check or not recorder.samples:
            return ""
        self.next_check = elapsed + 1.0
        partial = Result.from_samples(list(recorder.samples), elapsed, engine="locust")
        failing = [
            e for e in self.expectations if not all(v.passed for v in expect.judge(e, partial))
        ]
        if not failing:
            self.since = None
            return ""
        self.since = self.since if self.since is not None else elapsed
        limit = min(e.abort_after or 0.0 for e in failing)
        if elapsed - self.since >= limit:
            return f"{failing[0].text} failed for {elapsed - self.since:.1f}s (grace {limit:g}s)"
        return ""


@dataclass
class Attempt:
    result: Result
    verdicts: list[expect.Verdict]
    html: str = ""


@dataclass
class Live:
    """Callbacks of a run for a live view (all optional)."""

    update: Callable[[Recorder, float, int], None] = lambda rec, elapsed, users: None
    attempt: Callable[[int, list[expect.Verdict]], None] = lambda n, verdicts: None


def egress_for(backend: Backend, workload: str | None) -> Egress:
    """Where the load leaves from: a mesh workload's pod (through its sidecar), or here."""
    if not workload:
        return Egress()
    try:
        source_ip, proxy, hosts = backend.egress(workload)
    except MeshError as exc:
        if backend.name == "local":
            raise
        raise MeshError(f"{exc} (with `istiolab load`: --engine fortio)") from None
    name, _, namespace = workload.partition(".")
    namespace = namespace or "default"
    return Egress(source_ip, proxy, namespace, hosts, f"{name}.{namespace}")


def environment_info(backend: Backend) -> dict:
    import locust

    from istiolab import __version__ as istiolab_version

    return {
        "backend": backend.name,
        "istiolab": istiolab_version,
        "locust": locust.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "cpus": os.cpu_count(),
    }


def run_once(
    scenario: Scenario,
    plan: Plan,
    backend: Backend,
    live: Live | None = None,
    html: bool = False,
) -> Attempt:
    """One attempt of ``plan``, judged."""
    live = live or Live()
    if plan.seed is not None:
        random.seed(plan.seed)
    egress = egress_for(backend, plan.source)
    run_id = uuid.uuid4().hex[:12]
    recorder = Recorder(run_id=run_id, budget=plan.requests)
    if plan.lockstep:
        recorder.gate = Rounds(plan.users)
    elif plan.rate:
        recorder.gate = Pacer(plan.rate)
    proxies = [egress.label] if egress.label else [GATEWAY]
    regex = stats_regex(scenario, plan.target, egress.namespace or "default")
    watch = Watch(backend, proxies, regex, f"istiolab-load/{run_id}")
    watch.start()
    for cls in scenario.user_classes:
        cls.egress, cls.recorder, cls.host = egress, recorder, plan.target
        if plan.rate:
            cls.wait_time = constant(0)  # the pacer sets the arrivals
    env = Environment(
        user_classes=scenario.user_classes, host=plan.target, locustfile=str(scenario.path)
    )
    runner = env.create_local_runner()
    breach = Breach([e for e in scenario.expectations if e.abort_after])
    aborted = ""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    recorder.started = time.perf_counter()
    runner.start(plan.users, spawn_rate=plan.spawn_rate)
    while True:
        gevent.sleep(0.1)
        elapsed = time.perf_counter() - recorder.started
        live.update(recorder, elapsed, runner.user_count)
        if plan.requests is not None:
            done = len(recorder.samples) >= plan.requests
            if done or (recorder.budget == 0 and runner.user_count == 0):
                break
        elif plan.duration is not None and elapsed >= plan.duration:
            break
        aborted = breach.check(recorder, elapsed)
        if aborted:
            break
    recorder.drain()  # no new requests; the ones on the wire finish and are counted
    duration = time.perf_counter() - recorder.started
    runner.stop()
    page = ""
    if html:
        from locust.html import get_html_report

        page = get_html_report(env, show_download_link=False)
    runner.quit()
    samples = list(recorder.samples)
    result = Result.from_samples(
        samples,
        duration,
        engine="locust",
        target=plan.target,
        source=egress.label,
        scenario=scenario.name,
        started=started_at,
        users=plan.users,
        aborted=aborted,
        environment=environment_info(backend),
    )
    result.counters = watch.counters()
    answered = sum(1 for s in samples if s.code > 0)
    result.flags = watch.flags(answered)
    verdicts = expect.judge_all(scenario.expectations, result)
    return Attempt(result, verdicts, page)


def retry_left(scenario: Scenario, verdicts: list[expect.Verdict], attempt: int) -> bool:
    """True when every failing verdict's expectation allows another attempt."""
    failing = {v.expectation for v in verdicts if not v.passed}
    if not failing:
        return False
    budget = {e.text: e.retries for e in scenario.expectations}
    return all(budget.get(text, 0) >= attempt for text in failing)


def engine_for(requested: str, plan: Plan, backend: Backend) -> str:
    """``auto``: Locust, unless the load leaves from a pod (``--from``) that is not a process
    on this machine (a cluster) and is counted in requests: then the fortio pod's own
    generator, as the Istio docs run it."""
    if requested != "auto":
        return requested
    remote = plan.source is not None and not backend.pods_are_local
    return "fortio" if remote and plan.requests is not None else "locust"


def run(
    scenario: Scenario,
    plan: Plan,
    backend: Backend,
    live: Live | None = None,
    html: bool = False,
    engine: str = "locust",
) -> tuple[Attempt, list[Attempt]]:
    """Attempts (Locust's, or the fortio pod's with ``engine="fortio"``) until the
    expectations hold or a failure has no retry left; returns the last attempt and every
    earlier one."""
    live = live or Live()
    earlier: list[Attempt] = []
    number = 1
    while True:
        if engine == "fortio":
            attempt = run_fortio(scenario, plan, backend)
        else:
            attempt = run_once(scenario, plan, backend, live, html)
        attempt.result.attempts = number
        live.attempt(number, attempt.verdicts)
        if not retry_left(scenario, attempt.verdicts, number):
            return attempt, earlier
        earlier.append(attempt)
        number += 1


def run_fortio(scenario: Scenario, plan: Plan, backend: Backend) -> Attempt:
    """The same load by the fortio pod itself (``Backend.load``: fortio's generator inside
    the pod), judged by the same expectations; counters and flags are read around it too."""
    if not plan.source or not plan.requests:
        raise ParameterError(
            "--engine", "fortio", "a run --from a workload with --requests N (fortio -n)"
        )
    name, _, namespace = plan.source.partition(".")
    label = f"{name}.{namespace or 'default'}"
    regex = stats_regex(scenario, plan.target, namespace or "default")
    watch = Watch(backend, [label], regex, "fortio.org/fortio")
    watch.start()
    path = scenario.option("FORTIO_PATH", "/get")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        loaded = backend.load(
            plan.source,
            plan.target.rstrip("/") + path,
            count=plan.requests,
            concurrency=plan.users,
            qps=plan.rate,
        )
    except NotImplementedError as exc:
        raise MeshError(f"--engine fortio: {exc}") from None
    samples = [Sample(0.0, f"GET {path}", s.code, s.duration, s.error) for s in loaded.samples]
    result = Result.from_samples(
        samples,
        loaded.elapsed,
        engine="fortio",
        target=loaded.url,
        source=label,
        scenario=scenario.name,
        started=started_at,
        users=plan.users,
        environment=environment_info(backend),
    )
    result.counters = watch.counters()
    answered = sum(1 for s in samples if s.code > 0)
    result.flags = watch.flags(answered)  # entries logged since start: fortio's UA is shared
    return Attempt(result, expect.judge_all(scenario.expectations, result))
