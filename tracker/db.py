"""Engines for the two supported databases, configured for an append-only log.

SQLite: WAL, a busy timeout, and transactions we begin ourselves so a writer can take the write
lock up front (``BEGIN IMMEDIATE``). PostgreSQL: pooled connections with connect, statement and
lock timeouts. Both: a unit of work is retried on contention and, once, on a dropped connection.
Nothing here knows about events.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from tracker.events import canonical_json

WRITE = "tracker_write"
SQLITE_BUSY_TIMEOUT_MS = 15_000
PG_LOCK_TIMEOUT_MS = 15_000
PG_STATEMENT_TIMEOUT_MS = 120_000
#: A pooled PostgreSQL connection that sat unused this long is pinged before it is handed out
#: (one round trip); one used more recently is trusted, and if the server dropped it meanwhile
#: the unit of work's retry after a dropped connection takes a new one.
PG_PING_AFTER_IDLE_S = 1.0
#: libpq waits for ever (or for the kernel's TCP timeouts, minutes) on a server that accepted the
#: connection and then hung; ``?connect_timeout=N`` in the URL overrides this.
PG_CONNECT_TIMEOUT_S = 10


def masked(url: str | URL) -> str:
    """A database URL fit for logs and errors: the password never shows."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def is_sqlite(engine_or_conn: Engine | sa.Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    url = make_url(url)
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, json_serializer=canonical_json, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.get_backend_name() == "postgresql":
        given = url.query.get("options")
        options = " ".join(part for part in (  # the URL's own options come last, and win
            f"-c lock_timeout={PG_LOCK_TIMEOUT_MS}",
            f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS}",
            "-c idle_in_transaction_session_timeout=300000",
            # prepared statements are planned with their real parameters every time: a generic
            # plan chosen while the log was small (a sequential scan for the idempotency check)
            # would otherwise be kept as the log grows
            "-c plan_cache_mode=force_custom_plan",
            given if isinstance(given, str) else "",
        ) if part)
        connect_args: dict[str, Any] = {"options": options, "application_name": "tracker"}
        if "connect_timeout" not in url.query:  # the URL's own value wins
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        connect_args.update(kwargs.pop("connect_args", {}))
        ping_after = kwargs.pop("ping_after_idle_s", PG_PING_AFTER_IDLE_S)
        engine = sa.create_engine(url, json_serializer=canonical_json, pool_size=5,
                                  max_overflow=5, connect_args=connect_args, **kwargs)
        _ping_when_idle(engine, ping_after)
        return engine
    raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """SQLAlchemy's ``pool_pre_ping``, but only for connections idle ``idle_s`` or longer.

    A ping on every checkout was one of the six round trips of a single-event append; a
    connection back in the pool for less than a second is almost never one the server has
    dropped. A failed ping discards the connection and the pool hands out another."""
    @sa.event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise sa.exc.DisconnectionError(f"stale pooled connection: {exc}") from exc
            raise


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


#: SQLSTATEs worth retrying: serialization failure, deadlock, lock timeout.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
#: The server ended the session (pg_terminate_backend, a fast shutdown or crash) or is starting.
DISCONNECT_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
#: What psycopg says when the connection went away without a SQLSTATE to tell.
DISCONNECT_MESSAGES = ("terminating connection", "server closed the connection",
                       "connection already closed", "the connection is closed",
                       "connection is lost")
RETRY_ATTEMPTS = 5
#: A dropped connection is retried once: more would only wait out a server that is down.
DISCONNECT_RETRIES = 1

T = TypeVar("T")


def is_disconnect(exc: BaseException | None) -> bool:
    """The database connection dropped under the unit of work (not a refusal to connect)."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: BaseException | None = exc.orig
    elif type(exc).__module__.startswith("psycopg"):
        orig = exc
    else:
        return False
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate in DISCONNECT_SQLSTATES or sqlstate.startswith("08"):
        return True
    return any(message in str(orig) for message in DISCONNECT_MESSAGES)


def is_transient(exc: BaseException) -> bool:
    """A failure another attempt of the same transaction may not meet: contention, or a
    connection that dropped (the next attempt gets a new one) - not a bug."""
    if is_disconnect(exc):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(orig)


def retrying(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a whole unit of work again on a transient database error, with a bounded, jittered
    backoff (at most five attempts, a few seconds in all; one more after a dropped connection);
    other errors pass straight through. Each attempt is a new transaction, so a unit of work
    retried must be one whose writes are idempotent (appends are, by event id).

    The backoff before attempt n+1 is uniform in [0, min(2 s, 0.05 s * 2**(n-1))]. A plain loop,
    with the first attempt made directly: building a retry library's state for every call cost
    about 15 µs, a tenth of a single-event append on SQLite, when nearly every call succeeds
    at once.
    """

    @functools.wraps(fn)
    def attempt(*args: Any, **kwargs: Any) -> T:
        tries, dropped = 1, 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                dropped += is_disconnect(exc)
                if tries >= RETRY_ATTEMPTS or dropped > DISCONNECT_RETRIES:
                    raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** (tries - 1))))
            tries += 1

    return attempt


def write_connection(engine: Engine) -> sa.Connection:
    """A connection whose transactions take the database's write lock at BEGIN (SQLite)."""
    return engine.connect().execution_options(**{WRITE: True})
