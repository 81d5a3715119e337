"""Engines: PostgreSQL connections time out instead of hanging on a dead server, and a unit of
work whose connection dropped is run once more (issue 11)."""

from __future__ import annotations

import socket
import time
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


# -- pooled PostgreSQL connections the server dropped while they sat in the pool --------------

def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(pid: int) -> None:
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"),
                                {"pid": pid}).scalar() is True
    finally:
        admin.dispose()


def test_a_connection_idle_in_the_pool_is_pinged_and_replaced_when_dropped(pg_url) -> None:
    engine = make_engine(pg_url, ping_after_idle_s=0.0)  # every checkout counts as idle
    try:
        dropped = _backend_pid(engine)
        _terminate(dropped)  # as a server restart or an idle timeout would, while pooled

        with engine.connect() as conn:  # no error reaches the caller: the ping caught it
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != dropped
    finally:
        engine.dispose()


def _counting_pings(engine: sa.Engine) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def ping(dbapi_connection: object) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = ping  # type: ignore[method-assign]
    return pings


def test_only_a_connection_idle_long_enough_is_pinged(pg_url) -> None:
    engine = make_engine(pg_url, ping_after_idle_s=0.2)
    pings = _counting_pings(engine)
    try:
        _backend_pid(engine)
        _backend_pid(engine)
        assert pings == []  # back in the pool for microseconds: trusted, no round trip
        time.sleep(0.3)
        _backend_pid(engine)
        assert pings == [1]
    finally:
        engine.dispose()


def test_a_recently_used_connection_the_server_dropped_costs_one_retry(pg_url) -> None:
    from tracker.app import open_tracker
    from tracker.events import NewEvent

    tracker = open_tracker(pg_url)
    try:
        tracker.store.append_positions("s-1", [NewEvent("test.appended", {"n": 1},
                                                        tracker.now())])
        _terminate(_backend_pid(tracker.engine))  # the pooled connection, just used

        positions = tracker.store.append_positions(
            "s-1", [NewEvent("test.appended", {"n": 2}, tracker.now())])

        stored = list(tracker.store.read(stream_id="s-1"))
        assert [e.data["n"] for e in stored] == [1, 2]  # recorded once, by the retry
        assert positions == [stored[-1].position]
    finally:
        tracker.close()
