"""Fixtures for the local mesh tests: a private loopback prefix per test session."""

from __future__ import annotations

import itertools

import loopback
import pytest

# this run's 127.<octet> for the shared local mesh (tests/loopback.py hands every suite its own)
SESSION_OCTET = loopback.take("local")
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
