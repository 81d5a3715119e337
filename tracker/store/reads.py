"""The log's read path: plain SQL through the DBAPI cursor, rows decoded by ``codec``.

``EventStore``'s reads build their statements here; ``fetch_rows`` is also for other modules
that read many rows (projections)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tracker.db import is_sqlite
from tracker.events import RecordedEvent
from tracker.store.append import translated
from tracker.store.codec import COLUMN_LIST, SELECT_LIST_PG, decode_rows, stored_time


def selected(conn: sa.Connection) -> str:
    """The select list of a whole event row on ``conn``'s database."""
    return COLUMN_LIST if is_sqlite(conn) else SELECT_LIST_PG


def fetch_rows(conn: sa.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    """The rows of ``sql`` as the DBAPI cursor gives them (tuples: SQLAlchemy's Row objects
    and result set-up were a third of reading a page), in ``conn``'s transaction, begun first
    if it was not, as ``exec_driver_sql`` would."""
    if not conn.in_transaction():
        conn.begin()
    dbapi: Any = conn.connection.dbapi_connection
    with translated(conn.dialect, sql, dbapi):
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql, tuple(args))
            rows: list[Any] = cursor.fetchall()
        finally:
            cursor.close()
    return rows


def where(sqlite: bool, *, after: int, stream_id: str | None = None,
          recorded_until: datetime | None = None, occurred_since: datetime | None = None,
          occurred_by: datetime | None = None,
          until_position: int | None = None) -> tuple[str, list[Any]]:
    """The ``WHERE`` condition of a read after position ``after`` and its parameters."""
    mark = "?" if sqlite else "%s"
    conditions = [f"position > {mark}"]
    params: list[Any] = [after]
    if stream_id is not None:
        conditions.append(f"stream_id = {mark}")
        params.append(stream_id)
    if recorded_until is not None:
        conditions.append(f"recorded_at <= {mark}")
        params.append(stored_time(recorded_until, sqlite))
    if occurred_since is not None:
        conditions.append(f"occurred_at >= {mark}")
        params.append(stored_time(occurred_since, sqlite))
    if occurred_by is not None:
        conditions.append(f"occurred_at <= {mark}")
        params.append(stored_time(occurred_by, sqlite))
    if until_position is not None:
        conditions.append(f"position <= {mark}")
        params.append(until_position)
    return " AND ".join(conditions), params


def page(conn: sa.Connection, *, after: int, limit: int, wanted: list[str] | None,
         stream_id: str | None, recorded_until: datetime | None,
         occurred_since: datetime | None, occurred_by: datetime | None,
         until_position: int | None, upcast: bool) -> list[RecordedEvent]:
    """``EventStore.page`` on ``conn``; ``wanted``: the types, sorted and not empty, or None.

    On PostgreSQL a type filter becomes one index range per type, merged in position order, so
    a rare type is not found by walking the log. On SQLite the page's positions come from the
    (type, position) index alone and only those rows are read: reading every remaining row of
    the types to sort them, as a plain ``type IN (...) ORDER BY position LIMIT n`` does, cost
    a third more over a rebuild.
    """
    sqlite = is_sqlite(conn)
    condition, params = where(sqlite, after=after, stream_id=stream_id,
                              recorded_until=recorded_until, occurred_since=occurred_since,
                              occurred_by=occurred_by, until_position=until_position)
    if wanted is None:
        mark = "?" if sqlite else "%s"
        sql = f"SELECT {selected(conn)} FROM events WHERE {condition} ORDER BY position " \
              f"LIMIT {mark}"
        args: list[Any] = [*params, limit]
    elif sqlite:  # the positions from the (type, position) index, then those rows
        sql = (f"SELECT {COLUMN_LIST} FROM events WHERE position IN ("
               f"SELECT position FROM events WHERE {condition} "
               f"AND type IN ({', '.join('?' * len(wanted))}) ORDER BY position LIMIT ?) "
               "ORDER BY position")
        args = [*params, *wanted, limit]
    else:
        _index_order(conn)
        parts = [f"(SELECT {COLUMN_LIST} FROM events WHERE type = %s AND {condition} "
                 f"ORDER BY position LIMIT %s)" for _ in wanted]
        sql = (f"SELECT {SELECT_LIST_PG} FROM ({' UNION ALL '.join(parts)}) AS by_type "
               "ORDER BY position LIMIT %s")
        args = [value for name in wanted for value in (name, *params, limit)] + [limit]
    return decode_rows(fetch_rows(conn, sql, args), upcast)


_INDEX_ORDER = "tracker_index_order"


def _index_order(conn: sa.Connection) -> None:
    """Read a type's range of ``(type, position)`` in index order for the rest of ``conn``'s
    transaction (PostgreSQL), once per transaction.

    On a log PostgreSQL has no statistics for (autovacuum off, or straight after a bulk load),
    it guesses a type holds a few hundred rows and plans each page as a bitmap scan of every
    remaining row of the type and a sort: 140 ms a page for 20,000 news facts of a 1M-event
    log, re-read for each page. Walking the index in order reads only the page, whatever the
    statistics say; for these reads no other plan is better."""
    if not conn.in_transaction():
        conn.begin()
    transaction = conn.get_transaction()
    if conn.info.get(_INDEX_ORDER) is transaction:
        return
    fetch_rows(conn, "SELECT set_config('enable_bitmapscan', 'off', true)", ())
    conn.info[_INDEX_ORDER] = transaction


__all__ = ["fetch_rows", "page", "selected", "where"]
