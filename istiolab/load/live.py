"""The live view of a run (Rich, on stderr): elapsed time, users, requests, rps, and the
count per status code, refreshed while Locust runs; one line per finished attempt."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.live import Live as RichLive
from rich.table import Table

from istiolab.load.expect import Verdict
from istiolab.load.runner import Live, Plan
from istiolab.load.user import Recorder


class LiveView:
    def __init__(self, plan: Plan, quiet: bool = False) -> None:
        self.plan = plan
        self.console = Console(stderr=True, quiet=quiet)
        self.live = RichLive(console=self.console, refresh_per_second=4, transient=True)
        self.seen = 0

    def __enter__(self) -> LiveView:
        self.console.print(f"load: {self.plan.describe()}")
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def render(self, rec: Recorder, elapsed: float, users: int) -> Table:
        samples = rec.samples
        codes = Counter(s.code for s in samples)
        recent = [s for s in samples if s.at >= elapsed - 1.0]
        table = Table(box=None)
        for col in ("elapsed", "users", "requests", "rps (1s)", "codes"):
            table.add_column(col)
        table.add_row(
            f"{elapsed:.1f}s",
            str(users),
            str(len(samples)),
            f"{len(recent):d}",
            "  ".join(
                f"[{'green' if 200 <= c < 400 else 'red'}]{c}[/]: {n}"
                for c, n in sorted(codes.items())
            ),
        )
        return table

    def callbacks(self) -> Live:
        def update(rec: Recorder, elapsed: float, users: int) -> None:
            self.live.update(self.render(rec, elapsed, users))

        def attempt(number: int, verdicts: list[Verdict]) -> None:
            failed = [v for v in verdicts if not v.passed]
            state = "passed" if not failed else f"{len(failed)} expectation(s) failed"
            self.console.print(f"attempt {number}: {state}")

        return Live(update, attempt)
