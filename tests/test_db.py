"""Engines: PostgreSQL connections time out instead of hanging on a dead server, and a unit of
work whose connection dropped is run once more (issue 11)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, require_pg
from tracker import db
from tracker.db import is_disconnect, is_transient, make_engine, retrying


def libpq_parameters(url: str) -> dict[str, str]:
    """The parameters libpq really connected with, as psycopg reports them."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            return dict(raw.info.get_parameters())  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_postgres_connections_get_a_connect_timeout() -> None:
    require_pg()

    assert libpq_parameters(PG_URL)["connect_timeout"] == str(db.PG_CONNECT_TIMEOUT_S) == "10"


def test_a_connect_timeout_in_the_url_wins() -> None:
    require_pg()
    sep = "&" if "?" in PG_URL else "?"

    assert libpq_parameters(f"{PG_URL}{sep}connect_timeout=3")["connect_timeout"] == "3"
    # the URL's other options still come last and win too
    params = libpq_parameters(f"{PG_URL}{sep}options={quote('-cstatement_timeout=1234')}")
    assert params["connect_timeout"] == "10"
    assert "-cstatement_timeout=1234" in params["options"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word, as a hung server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_hung_server_gives_a_timeout_error_not_a_hang(silent_server, monkeypatch) -> None:
    monkeypatch.setattr(db, "PG_CONNECT_TIMEOUT_S", 1)  # psycopg waits at least 2 s
    engine = make_engine(f"postgresql://nobody@127.0.0.1:{silent_server}/nothing")
    try:
        with pytest.raises(sa.exc.OperationalError, match="timeout") as info, engine.connect():
            pass
    finally:
        engine.dispose()
    assert not is_transient(info.value)  # a server that never answers is not retried


def test_sqlite_engines_are_left_alone(sqlite_url) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


# -- what counts as a dropped connection ------------------------------------------------------


class _PgError(Exception):
    """Stands in for a psycopg error: a message and a SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(orig: Exception, invalidated: bool = False) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize("error", [
    wrapped(_PgError("anything"), invalidated=True),
    wrapped(_PgError("terminating connection due to administrator command", "57P01")),
    wrapped(_PgError("server closed the connection unexpectedly")),
    wrapped(_PgError("consuming input failed: EOF", "08006")),
], ids=["invalidated", "admin-shutdown", "server-closed", "connection-failure"])
def test_dropped_connections_are_transient(error) -> None:
    assert is_disconnect(error)
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    wrapped(_PgError("connection timeout expired")),
    wrapped(_PgError('relation "events" does not exist', "42P01")),
    ValueError("terminating connection"),  # not a database error at all
    None,
], ids=["connect-timeout", "a-bug", "not-a-db-error", "none"])
def test_other_errors_are_not_dropped_connections(error) -> None:
    assert not is_disconnect(error)


def test_the_psycopg_errors_themselves_count_too() -> None:
    psycopg = pytest.importorskip("psycopg")

    assert is_disconnect(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert is_transient(psycopg.errors.AdminShutdown("terminating connection"))
    assert not is_disconnect(psycopg.errors.UndefinedTable("no such table"))


def test_a_dropped_connection_is_retried_once() -> None:
    calls = 0

    @retrying
    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise wrapped(_PgError("terminating connection", "57P01"), invalidated=True)
        return "done"

    assert flaky() == "done"
    assert calls == 2


def test_a_connection_dropped_again_is_not_retried_again() -> None:
    calls = 0

    @retrying
    def always_dropped() -> None:
        nonlocal calls
        calls += 1
        raise wrapped(_PgError("server closed the connection unexpectedly"))

    with pytest.raises(sa.exc.OperationalError):
        always_dropped()
    assert calls == 2


def test_contention_then_a_dropped_connection_still_gets_its_retry() -> None:
    errors = [wrapped(_PgError("database is locked")),
              wrapped(_PgError("database is locked")),
              wrapped(_PgError("terminating connection", "57P01"))]
    calls = 0

    @retrying
    def unlucky() -> str:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return "done"

    assert unlucky() == "done"
    assert calls == 4
