"""Fixtures for the ingest tests: a tracker on each database, a port nothing listens on, and
the hostile inputs.

The loopback feed server (``loopback``, the same as ``server``) is in tests/conftest.py; the
inputs are the files in tests/ingest/fixtures.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.paths import ingest_fixture
from tracker.app import Tracker, open_tracker


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """Reads ``tests/ingest/fixtures/NAME``."""
    return ingest_fixture


@pytest.fixture
def tracker(db_url: str, clock: Any) -> Iterator[Tracker]:
    """A migrated, empty tracker on the test's database, on the injected clock."""
    t = open_tracker(db_url, clock)
    try:
        yield t
    finally:
        t.close()
