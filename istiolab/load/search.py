"""``--find-max-rps``: the highest offered rate at which the expectations still hold, found as
Nighthawk's adaptive load controller does: double the rate until a trial fails, then bisect
between the last rate that passed and the first that failed. Pure: the trial is a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class MaxRps:
    passed: float | None  # the highest rate that held (None: even the first failed)
    failed: float | None  # the lowest rate that did not (None: never failed up to the cap)
    trials: list[tuple[float, bool]] = field(default_factory=list)

    def describe(self) -> str:
        if self.passed is None:
            return f"no rate held: {self.failed:g} rps already failed"
        if self.failed is None:
            return f"max rps >= {self.passed:g} (every trial up to the cap held)"
        return f"max rps in [{self.passed:g}, {self.failed:g}) ({len(self.trials)} trials)"


def find_max_rps(
    trial: Callable[[float], bool],
    start: float = 10.0,
    cap: float = 100_000.0,
    precision: float = 0.1,
    max_trials: int = 16,
) -> MaxRps:
    """``trial(rate)`` runs the load at ``rate`` and says whether the expectations held. The
    answer's interval is narrowed until ``failed / passed - 1 <= precision``."""
    if start <= 0:
        raise ValueError(f"start rate {start} must be > 0")
    out = MaxRps(None, None)

    def run(rate: float) -> bool:
        ok = trial(rate)
        out.trials.append((rate, ok))
        return ok

    rate = start
    while len(out.trials) < max_trials:
        if run(rate):
            out.passed = rate
            if rate >= cap:
                return out
            rate = min(rate * 2, cap)
        else:
            out.failed = rate
            break
    if out.passed is None or out.failed is None:
        return out
    while out.failed / out.passed - 1 > precision and len(out.trials) < max_trials:
        mid = round((out.passed + out.failed) / 2, 1)
        if run(mid):
            out.passed = mid
        else:
            out.failed = mid
    return out
