"""Suite-wide rules: under CI=true a skipped test is reported as a failure, so CI can never
pass by skipping. Helpers for tests live in tests/support.py (`from support import require`)."""

from __future__ import annotations

import pytest
from support import IN_CI


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
