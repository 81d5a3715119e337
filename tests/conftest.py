"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL; a hand-moved
clock; the loopback feed server (``server``, also named ``loopback``).

PostgreSQL isolation: each test gets its own schema (search_path), dropped afterwards.
Outside CI the PostgreSQL variants skip with a reason when no server answers; with CI=true
they fail instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.support.clock import FakeClock
from tests.support.feed_server import FeedServer

PG_URL = os.environ.get("TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_pg_status: dict[str, str | None] = {}


def _pg_unavailable() -> str | None:
    if "reason" not in _pg_status:
        try:
            engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_status["reason"] = None
        except Exception as exc:  # any failure to reach the server means "unavailable"
            first = str(exc).splitlines()[0]
            _pg_status["reason"] = f"PostgreSQL at {PG_URL} not reachable: {first}"
    return _pg_status["reason"]


def require_pg() -> None:
    reason = _pg_unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _utc_unless_told(monkeypatch) -> None:
    """Times read and shown in UTC, whatever zone the machine running the tests is set to
    (a test about zones sets its own: ``--tz``, or ``TRACKER_TZ``)."""
    monkeypatch.setenv("TRACKER_TZ", "UTC")


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch) -> None:
    """Text laid out as for a pipe (100 columns), whatever COLUMNS the runner was started
    with (pytest-xdist's workers see 80); a test about widths sets its own."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch, tmp_path_factory) -> None:
    """No config file from the machine running the tests (tests of the config file name
    theirs: ``--config``, ``TRACKER_CONFIG``, or ``XDG_CONFIG_HOME``)."""
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "no-config"))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """A fresh, empty database URL on each backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """The loopback feed server (:class:`tests.support.feed_server.FeedServer`), closed after
    the test."""
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def loopback(server: FeedServer) -> FeedServer:
    """The same server as ``server``, under the name the fetch and parse tests use."""
    return server
