"""Telemetry and load-run probes of the lab checks, through the backend: an Istio metric's
growth (``Backend.telemetry_window``), the service graph built from it, traces
(``Backend.spans``), and a loadtests/ scenario run by ``istiolab load`` in a child process
(Locust patches its process for gevent; the lab runner's threads must not be)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from istiolab.backends import Backend
from istiolab.durations import seconds
from istiolab.errors import MeshError
from istiolab.labs import matchers, signals
from istiolab.labs.checks import Check
from istiolab.labs.measure import Measure, as_spec

FLUSH = 8.0  # seconds metrics and spans may take to reach the collector after the traffic
LOADRUN_TIMEOUT = 300.0


def _poll(measure: Callable[[], Measure], budget: float) -> Measure:
    """Re-measure (no new traffic) until it passes or `budget` seconds are spent."""
    deadline, delay = time.monotonic() + budget, 0.2
    while True:
        m = measure()
        if m.passed or time.monotonic() + delay > deadline:
            return m
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class TelemetryProbes:
    """Mixed into the Runner: needs ``backend`` and the traffic probes' ``_during``."""

    backend: Backend

    def _during(self, p: Mapping[str, Any]) -> None:  # provided by TrafficProbes
        raise NotImplementedError

    def _settle(self, p: Mapping[str, Any]) -> float:
        return seconds(p.get("settle", FLUSH)) if p.get("during") else 0.0

    # ---------------------------------------------------------------- metric
    def _metric(self, check: Check) -> Measure:
        p = check.params
        metric, labels = p.get("metric", "istio_requests_total"), p.get("labels") or {}
        spec = as_spec(p.get("change", {"gte": 1}))
        series = signals.describe_series(metric, labels)
        expected = f"{series} grew {matchers.describe_spec(spec)}"
        if p.get("during"):
            before = signals.metric_sum(self.backend.telemetry_window(1.0)["now"], metric, labels)
            self._during(p)

            def grown() -> Measure:
                now = self.backend.telemetry_window(1.0)["now"]
                after = signals.metric_sum(now, metric, labels)
                ok = matchers.matches([(after - before, "")], spec)
                return Measure(ok, expected, f"{before:g} -> {after:g} (+{after - before:g})")

            return _poll(grown, self._settle(p))
        window = seconds(p.get("window", 60))
        data = self.backend.telemetry_window(window)
        now = signals.metric_sum(data["now"], metric, labels)
        then = signals.metric_sum(data["then"], metric, labels)
        ok = matchers.matches([(now - then, "")], spec)
        return Measure(
            ok,
            f"{expected} in {window:g}s",
            f"+{now - then:g} in the last {data['seconds']:g}s",
        )

    # ---------------------------------------------------------------- graph
    def _graph(self, check: Check) -> Measure:
        from istiolab.local.telemetry.graph import build_graph

        p = check.params
        nodes, edges = list(p.get("nodes") or []), list(p.get("edges") or [])
        window = seconds(p.get("window", 60))
        expected = ", ".join([*nodes, *edges]) + f" in the last {window:g}s"
        self._during(p)

        def drawn() -> Measure:
            data = self.backend.telemetry_window(window)
            graph = build_graph(
                [tuple(s) for s in data["now"]],
                [tuple(s) for s in data["then"]],
                data["seconds"],
                p.get("namespace"),
            )
            missing = signals.graph_missing(graph, nodes, edges)
            shown = signals.describe_graph(graph)
            if missing:
                shown = "missing " + ", ".join(missing) + "; " + shown
            return Measure(not missing, expected, shown)

        return _poll(drawn, self._settle(p))

    # ---------------------------------------------------------------- trace
    def _trace(self, check: Check) -> Measure:
        from istiolab.local.telemetry.traces import build_traces

        p = check.params
        services = list(p["services"])
        least = int(p.get("count", 1))
        since_us = int(time.time() * 1e6) if p.get("during") else 0
        expected = f">= {least} trace(s) through " + " -> ".join(services)
        if p.get("during"):
            expected += " during the check"
        self._during(p)

        def found() -> Measure:
            traces = build_traces(self.backend.spans())
            hits = signals.traces_through(traces, services, since_us)
            recent = [t for t in traces if t.start_us >= since_us]
            shown = f"{len(hits)} trace(s) through them, of {len(recent)}"
            if hits:
                shown += f" (e.g. {hits[0].trace_id}: {', '.join(hits[0].services)})"
            return Measure(len(hits) >= least, expected, shown)

        return _poll(found, self._settle(p))

    # ---------------------------------------------------------------- loadrun
    def _loadrun(self, check: Check) -> Measure:
        p = check.params
        args = signals.loadrun_args(p["scenario"], p)
        shown = "istiolab " + " ".join(a for a in args[:-2])
        cmd = [sys.executable, "-m", "istiolab", *args, *self.backend.cli_options()]
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=LOADRUN_TIMEOUT,
                env={**os.environ, "NO_COLOR": "1", **self.backend.cli_env()},
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MeshError(f"{shown}: no result after {LOADRUN_TIMEOUT:g}s") from None
        try:
            result = json.loads(done.stdout)
        except ValueError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return Measure(False, f"{shown} passes", f"exit {done.returncode}: {last}")
        ok, measured = signals.judge_loadrun(result)
        return Measure(ok and done.returncode == 0, f"{shown} passes", measured)
