"""The append-only event store: the only code that reads or writes the ``events`` table (its
read queries are built in ``reads``, the chain checked in ``verify``).

Appends are serialized by a database lock held for the length of the transaction, so positions
are dense and become visible in commit order, and each event's hash can chain to the previous one.
Every read is offered on its own connection or, with ``conn=``, inside the caller's transaction
(a writer that reads the log to decide what to append does so under the append lock).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from tracker.dates import utc
from tracker.db import is_sqlite, retrying, write_connection
from tracker.errors import ConcurrencyError, DuplicateEventError
from tracker.events import GENESIS_HASH, NewEvent, RecordedEvent, new_content
from tracker.store import reads
from tracker.store.append import (
    APPEND_LOCK_KEY,
    INLINE_HASH,
    append_state,
    chain,
    insert_rows,
    stored_rows,
    translated,
)
from tracker.store.codec import decode_rows, encode, roundtrip, stored_time
from tracker.store.verify import Head, VerifyResult, verify_chain

#: ``expected_version`` value meaning "append whatever the stream's version".
ANY: Final = None

_LOCKED_IN: Final = "tracker_append_lock_transaction"

#: Ids per ``IN (...)`` lookup.
_ID_CHUNK: Final = 500

Clock = Callable[[], datetime]

#: What an append did: events of the batch stored before, rows inserted, events they record.
_Appended = tuple[list[RecordedEvent], list[tuple[Any, ...]], list[RecordedEvent]]


def system_clock() -> datetime:
    return datetime.now(UTC)


class EventStore:
    """Append, read and verify the log. The engine and the clock are handed in."""

    def __init__(self, engine: Engine, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    # -- writing ---------------------------------------------------------------------------

    @retrying
    def append(self, stream_id: str, new_events: Sequence[NewEvent],
               expected_version: int | None = ANY) -> list[RecordedEvent]:
        """Append ``new_events`` to ``stream_id`` atomically; see ``append_in``.

        A lock timeout or serialization failure retries the whole append (bounded)."""
        already, rows, recorded = self._append_own(stream_id, new_events, expected_version,
                                                   events=True)
        return already + recorded

    @retrying
    def append_positions(self, stream_id: str, new_events: Sequence[NewEvent],
                         expected_version: int | None = ANY) -> list[int]:
        """``append``, returning only the events' positions (in ``append``'s order).

        The same checks, lock, chain and insert, without building and decoding the events
        ``append`` returns (half of its Python work): for callers that discard them."""
        already, rows, _ = self._append_own(stream_id, new_events, expected_version,
                                            events=False)
        return [e.position for e in already] + [row[0] for row in rows]

    def append_in(self, conn: sa.Connection, stream_id: str, new_events: Sequence[NewEvent],
                  expected_version: int | None = ANY) -> list[RecordedEvent]:
        """Append inside the caller's transaction (so other rows can commit with the events).

        Re-appending an event whose id is already stored with identical content is a no-op
        (the stored event is returned); the same id with other content raises. The version
        check applies when none of the batch was stored before.
        """
        already, rows, recorded = self._append_in(conn, stream_id, new_events,
                                                  expected_version, events=True)
        return already + recorded

    def append_positions_in(self, conn: sa.Connection, stream_id: str,
                            new_events: Sequence[NewEvent],
                            expected_version: int | None = ANY) -> list[int]:
        """``append_in``, returning only the positions (see ``append_positions``)."""
        already, rows, _ = self._append_in(conn, stream_id, new_events, expected_version,
                                           events=False)
        return [e.position for e in already] + [row[0] for row in rows]

    def _append_in(self, conn: sa.Connection, stream_id: str, new_events: Sequence[NewEvent],
                   expected_version: int | None, *, events: bool) -> _Appended:
        if not new_events:
            return [], [], []
        self.lock(conn)
        dialect = conn.dialect
        sqlite = dialect.name == "sqlite"
        dbapi: Any = conn.connection.dbapi_connection
        with translated(dialect):
            cursor = dbapi.cursor()
            try:
                already, rows, recorded = self._prepare(cursor, sqlite, False, stream_id,
                                                        new_events, expected_version, events)
                if rows:
                    with self._conflicts(stream_id, cursor.connection):
                        insert_rows(cursor, sqlite, rows)
                return already, rows, recorded
            finally:
                cursor.close()

    def _append_own(self, stream_id: str, new_events: Sequence[NewEvent],
                    expected_version: int | None, *, events: bool) -> _Appended:
        """An append in a transaction of its own, on a pooled DBAPI connection.

        The transaction is the one ``write_connection`` gives (``BEGIN IMMEDIATE`` on SQLite;
        on PostgreSQL the advisory lock), driven without SQLAlchemy's Connection: its set-up,
        events and result objects were more than half of a single-event append. An engine with
        one shared connection (``StaticPool``: the read-only engine, whose transactions join
        each other) goes through ``append_in``.
        """
        if not new_events:
            return [], [], []
        if isinstance(self.engine.pool, StaticPool):
            with write_connection(self.engine) as conn, conn.begin():
                return self._append_in(conn, stream_id, new_events, expected_version,
                                       events=events)
        dialect = self.engine.dialect
        sqlite = dialect.name == "sqlite"
        pooled = self.engine.raw_connection()
        dbapi: Any = pooled.dbapi_connection
        try:
            with translated(dialect, dbapi=dbapi):
                cursor = dbapi.cursor()
                try:
                    if sqlite:
                        cursor.execute("BEGIN IMMEDIATE")
                    already, rows, recorded = self._prepare(
                        cursor, sqlite, not sqlite, stream_id, new_events, expected_version,
                        events)
                    if rows:
                        with self._conflicts(stream_id, dbapi):
                            insert_rows(cursor, sqlite, rows)
                    cursor.close()
                    dbapi.commit()
                    return already, rows, recorded
                except BaseException:
                    with contextlib.suppress(Exception):
                        cursor.close()
                    with contextlib.suppress(Exception):
                        dbapi.rollback()
                    raise
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                pooled.invalidate(exc.orig)
            raise
        finally:
            pooled.close()

    @contextlib.contextmanager
    def _conflicts(self, stream_id: str, dbapi: Any) -> Iterator[None]:
        """A unique violation while inserting: another writer got there (``ConcurrencyError``)."""
        try:
            with translated(self.engine.dialect, dbapi=dbapi):
                yield
        except sa.exc.IntegrityError as exc:
            raise ConcurrencyError(f"append to {stream_id!r} conflicted: {exc.orig}") from None

    def _prepare(self, cursor: Any, sqlite: bool, lock: bool, stream_id: str,
                 new_events: Sequence[NewEvent], expected_version: int | None,
                 events: bool) -> _Appended:
        """The events of the batch stored before, the rows to insert, and (with ``events``)
        the events those rows record; with the DBAPI ``cursor``, in its transaction, under the
        append lock (taken here with ``lock``)."""
        state = append_state(cursor, sqlite, stream_id, [e.event_id for e in new_events], lock)
        fresh: Sequence[NewEvent] = new_events
        already: list[RecordedEvent] = []
        if state.stored_ids:  # the rare path: some of the batch was appended before
            existing = {e.event_id: e for e in decode_rows(
                stored_rows(cursor, sqlite, state.stored_ids), upcast=False)}
            fresh = []
            for event in new_events:
                stored = existing.get(event.event_id)
                if stored is None:
                    fresh.append(event)
                    continue
                if stored.content() != roundtrip(new_content(event, stream_id)):
                    raise DuplicateEventError(
                        f"event {event.event_id} is already stored at position {stored.position} "
                        "with different content")
                already.append(stored)
        if len({e.event_id for e in fresh}) != len(fresh):
            raise DuplicateEventError("the batch holds the same event id twice")
        if not fresh:
            return already, [], []
        if expected_version is not None and not already \
                and state.stream_version != expected_version:
            raise ConcurrencyError(f"stream {stream_id!r} is at version {state.stream_version}, "
                                   f"expected {expected_version}")
        now = utc(self.clock())
        if state.head_recorded_at is not None and state.head_recorded_at > now:
            now = state.head_recorded_at  # recorded_at never goes backwards along the log
        rows, recorded = chain(fresh, stream_id, state.stream_version, state.head_position,
                               state.head_hash, now, sqlite, INLINE_HASH, events)
        return already, rows, recorded

    def insert_verbatim(self, conn: sa.Connection, recorded: Sequence[RecordedEvent]) -> None:
        """Copy events from another log as they are (positions, times, hashes): ``import``.

        The caller checks that they continue this log's chain, under ``lock``."""
        if not recorded:
            return
        sqlite = is_sqlite(conn)
        rows = [(e.position, e.event_id, e.stream_id, e.stream_version, e.type,
                 e.schema_version, stored_time(e.occurred_at, sqlite), e.occurred_precision,
                 stored_time(e.recorded_at, sqlite), encode(e.data), encode(e.meta),
                 e.prev_hash, e.hash) for e in recorded]
        dbapi: Any = conn.connection.dbapi_connection
        with translated(conn.dialect, "import"):
            cursor = dbapi.cursor()
            try:
                insert_rows(cursor, sqlite, rows)
            finally:
                cursor.close()

    def lock(self, conn: sa.Connection) -> None:
        """Take the append lock for the rest of ``conn``'s transaction (once per transaction).

        Callers that read the log to decide what to append (story dedupe, retractions) take it
        first, so what they read cannot change before they append.
        """
        if is_sqlite(conn):
            return  # the transaction began with BEGIN IMMEDIATE: the write lock is held
        transaction = conn.get_transaction()
        if transaction is not None and conn.info.get(_LOCKED_IN) is transaction:
            return
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
        conn.info[_LOCKED_IN] = transaction

    # -- reading ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _using(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own:
            yield own

    def head(self, *, conn: sa.Connection | None = None) -> int:
        """The position of the last event (0 for an empty log)."""
        return self.tip(conn=conn).position

    def tip(self, *, conn: sa.Connection | None = None) -> Head:
        """The last event's position and hash."""
        with self._using(conn) as c:
            row = c.exec_driver_sql(
                "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").first()
        return Head(int(row[0]), str(row[1])) if row else Head(0, GENESIS_HASH)

    def last(self, *, conn: sa.Connection | None = None) -> RecordedEvent | None:
        """The last event as stored (not upcast), or None for an empty log."""
        with self._using(conn) as c:
            rows = reads.fetch_rows(
                c, f"SELECT {reads.selected(c)} FROM events ORDER BY position DESC LIMIT 1", ())
        found = decode_rows(rows, upcast=False)
        return found[0] if found else None

    def hash_at(self, position: int, *, conn: sa.Connection | None = None) -> str | None:
        """The stored hash of the event at ``position`` (the genesis hash at 0), None if absent."""
        if position == 0:
            return GENESIS_HASH
        with self._using(conn) as c:
            mark = "?" if is_sqlite(c) else "%s"
            value = c.exec_driver_sql(f"SELECT hash FROM events WHERE position = {mark}",
                                      (position,)).scalar()
        return None if value is None else str(value)

    def stream_version(self, stream_id: str, *, conn: sa.Connection | None = None) -> int:
        with self._using(conn) as c:
            mark = "?" if is_sqlite(c) else "%s"
            version = c.exec_driver_sql(
                f"SELECT max(stream_version) FROM events WHERE stream_id = {mark}",
                (stream_id,)).scalar()
        return int(version or 0)

    def get(self, position: int, *, conn: sa.Connection | None = None) -> RecordedEvent | None:
        page = self.page(after=position - 1, until_position=position, limit=1, conn=conn)
        return page[0] if page else None

    def by_ids(self, ids: Iterable[str], *, conn: sa.Connection | None = None,
               upcast: bool = True) -> dict[str, RecordedEvent]:
        """The stored events among ``ids``, by id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, RecordedEvent] = {}
        with self._using(conn) as c:
            mark = "?" if is_sqlite(c) else "%s"
            for start in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[start:start + _ID_CHUNK]
                rows = reads.fetch_rows(c, f"SELECT {reads.selected(c)} FROM events "
                                  f"WHERE event_id IN ({', '.join([mark] * len(chunk))})", chunk)
                found.update((e.event_id, e) for e in decode_rows(rows, upcast))
        return found

    def count(self, *, types: Iterable[str] | None = None, until_position: int | None = None,
              conn: sa.Connection | None = None) -> int:
        with self._using(conn) as c:
            where, params = reads.where(is_sqlite(c), after=0, until_position=until_position)
            wanted = sorted(set(types)) if types is not None else None
            if wanted is not None:
                if not wanted:
                    return 0
                mark = "?" if is_sqlite(c) else "%s"
                where += f" AND type IN ({', '.join([mark] * len(wanted))})"
                params += wanted
            return int(c.exec_driver_sql(f"SELECT count(*) FROM events WHERE {where}",
                                         tuple(params)).scalar() or 0)

    def page(self, *, after: int, limit: int, types: Iterable[str] | None = None,
             stream_id: str | None = None, recorded_until: datetime | None = None,
             occurred_since: datetime | None = None, occurred_by: datetime | None = None,
             until_position: int | None = None, upcast: bool = True,
             conn: sa.Connection | None = None) -> list[RecordedEvent]:
        """Up to ``limit`` events after position ``after`` matching the filters, in order.

        ``occurred_by`` here bounds ``occurred_at`` only; ``read`` applies the whole-period
        rule. Plain SQL through the DBAPI cursor (SQLAlchemy's per-value result processing was
        most of a rebuild's reading cost); how a type filter uses the indexes: ``reads.page``.
        """
        wanted = sorted(set(types)) if types is not None else None
        if wanted is not None and not wanted:
            return []
        with self._using(conn) as c:
            return reads.page(c, after=after, limit=limit, wanted=wanted, stream_id=stream_id,
                              recorded_until=recorded_until, occurred_since=occurred_since,
                              occurred_by=occurred_by, until_position=until_position,
                              upcast=upcast)

    def read(self, *, after: int = 0, limit: int | None = None, stream_id: str | None = None,
             types: Iterable[str] | None = None, recorded_until: datetime | None = None,
             occurred_since: datetime | None = None, occurred_by: datetime | None = None,
             until_position: int | None = None, page_size: int = 1000, upcast: bool = True,
             conn: sa.Connection | None = None) -> Iterator[RecordedEvent]:
        """Events in position order, fetched page by page (keyset on position).

        ``recorded_until``: recorded_at <= it. ``occurred_since``: occurred_at >= it.
        ``occurred_by``: the event's whole period (its occurred_at at its precision) ended by
        then, i.e. it had certainly happened. Without ``conn`` each page takes a connection
        from the pool and gives it back.
        """
        remaining = limit
        cursor = after
        by = utc(occurred_by) if occurred_by is not None else None
        types = list(types) if types is not None else None
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            page = self.page(after=cursor, limit=size, stream_id=stream_id, types=types,
                             recorded_until=recorded_until, occurred_since=occurred_since,
                             occurred_by=by, until_position=until_position, upcast=upcast,
                             conn=conn)
            if not page:
                return
            for event in page:
                if by is not None and event.occurred_until > by:
                    continue
                yield event
            cursor = page[-1].position
            if remaining is not None:
                remaining -= len(page)
            if len(page) < size:
                return

    def has_events_after(self, position: int, types: Iterable[str],
                         *, conn: sa.Connection | None = None) -> bool:
        """Whether any event of ``types`` follows ``position`` (a cheap, read-only look)."""
        wanted = sorted(set(types))
        if not wanted:
            return False
        with self._using(conn) as c:
            mark = "?" if is_sqlite(c) else "%s"
            row = c.exec_driver_sql(
                f"SELECT position FROM events WHERE type IN ({', '.join([mark] * len(wanted))}) "
                f"AND position > {mark} LIMIT 1", (*wanted, position)).first()
        return row is not None

    # -- integrity -------------------------------------------------------------------------

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyResult:
        """Recompute the hash chain over the whole log; report the first position that breaks."""
        return verify_chain(self.read(upcast=False, page_size=5000), progress)



__all__ = ["ANY", "APPEND_LOCK_KEY", "Clock", "EventStore", "system_clock"]
