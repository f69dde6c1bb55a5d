"""Fixtures of the Pulumi mock tests (the machinery is in pulumi_harness.py)."""

from pulumi_harness import big_host, run_pulumi  # noqa: F401
