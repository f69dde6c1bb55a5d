"""Fixtures for the local mesh tests: a private loopback prefix per test session."""

from __future__ import annotations

import itertools
import random

import pytest

# one random 127.<octet> per session (100..249) so parallel runs of other helpers never collide
SESSION_OCTET = random.SystemRandom().randint(100, 249)
_hosts = itertools.count(10)


@pytest.fixture(scope="session")
def octet() -> int:
    return SESSION_OCTET


@pytest.fixture
def loopback():
    """Hand out fresh addresses 127.<session octet>.250.<n> for ad-hoc listeners."""

    def next_host() -> str:
        return f"127.{SESSION_OCTET}.250.{next(_hosts)}"

    return next_host
