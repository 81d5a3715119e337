"""The append-only event store: the only code that reads or writes the ``events`` table.

Appends are serialized by a database lock held for the length of the transaction, so positions
are dense and become visible in commit order, and each event's hash can chain to the previous one.
Every read is offered on its own connection or, with ``conn=``, inside the caller's transaction
(a writer that reads the log to decide what to append does so under the append lock).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.dates import utc
from tracker.db import is_sqlite, retrying, write_connection
from tracker.errors import ConcurrencyError, DuplicateEventError
from tracker.events import GENESIS_HASH, NewEvent, RecordedEvent, new_content, recorded_hash
from tracker.store.append import INLINE_HASH, INSERT_PG, INSERT_SQLITE, append_state, chain
from tracker.store.codec import COLUMN_LIST, decode_rows, encode, roundtrip, stored_time

#: ``expected_version`` value meaning "append whatever the stream's version".
ANY: Final = None

_LOCKED_IN: Final = "tracker_append_lock_transaction"

#: Key of the PostgreSQL advisory lock that serializes appends ("tracker" in ASCII).
APPEND_LOCK_KEY: Final = 0x747261636B6572

#: Ids per ``IN (...)`` lookup.
_ID_CHUNK: Final = 500

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_position: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of the log (position 0 and the genesis hash when it is empty).

    Kept elsewhere, it is what a later ``verify --against`` checks the log still holds."""

    position: int
    hash: str
    recorded_at: datetime | None = None


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
        with write_connection(self.engine) as conn, conn.begin():
            return self.append_in(conn, stream_id, new_events, expected_version)

    def append_in(self, conn: sa.Connection, stream_id: str, new_events: Sequence[NewEvent],
                  expected_version: int | None = ANY) -> list[RecordedEvent]:
        """Append inside the caller's transaction (so other rows can commit with the events).

        Re-appending an event whose id is already stored with identical content is a no-op
        (the stored event is returned); the same id with other content raises. The version
        check applies when none of the batch was stored before.
        """
        if not new_events:
            return []
        self.lock(conn)
        sqlite = is_sqlite(conn)
        state = append_state(conn, sqlite, stream_id, [e.event_id for e in new_events])
        fresh: Sequence[NewEvent] = new_events
        already: list[RecordedEvent] = []
        if state.stored_ids:  # the rare path: some of the batch was appended before
            existing = self.by_ids(state.stored_ids, conn=conn, upcast=False)
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
            return already
        if expected_version is not None and not already \
                and state.stream_version != expected_version:
            raise ConcurrencyError(f"stream {stream_id!r} is at version {state.stream_version}, "
                                   f"expected {expected_version}")
        now = utc(self.clock())
        if state.head_recorded_at is not None and state.head_recorded_at > now:
            now = state.head_recorded_at  # recorded_at never goes backwards along the log
        rows, recorded = chain(fresh, stream_id, state.stream_version, state.head_position,
                               state.head_hash, now, sqlite, INLINE_HASH)
        try:
            conn.exec_driver_sql(INSERT_SQLITE if sqlite else INSERT_PG, rows)
        except sa.exc.IntegrityError as exc:
            raise ConcurrencyError(f"append to {stream_id!r} conflicted: {exc.orig}") from None
        return already + recorded

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
        conn.exec_driver_sql(INSERT_SQLITE if sqlite else INSERT_PG, rows)

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
            rows = c.exec_driver_sql(
                f"SELECT {COLUMN_LIST} FROM events ORDER BY position DESC LIMIT 1").all()
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
                rows = c.exec_driver_sql(
                    f"SELECT {COLUMN_LIST} FROM events "
                    f"WHERE event_id IN ({', '.join([mark] * len(chunk))})", tuple(chunk)).all()
                found.update((e.event_id, e) for e in decode_rows(rows, upcast))
        return found

    def count(self, *, types: Iterable[str] | None = None, until_position: int | None = None,
              conn: sa.Connection | None = None) -> int:
        with self._using(conn) as c:
            where, params = _where(is_sqlite(c), after=0, until_position=until_position)
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
        most of a rebuild's reading cost). On PostgreSQL a type filter becomes one index range
        per type, merged in position order, so a rare type is not found by walking the log.
        """
        wanted = sorted(set(types)) if types is not None else None
        if wanted is not None and not wanted:
            return []
        with self._using(conn) as c:
            sqlite = is_sqlite(c)
            where, params = _where(sqlite, after=after, stream_id=stream_id,
                                   recorded_until=recorded_until, occurred_since=occurred_since,
                                   occurred_by=occurred_by, until_position=until_position)
            if wanted is None:
                mark = "?" if sqlite else "%s"
                sql = f"SELECT {COLUMN_LIST} FROM events WHERE {where} ORDER BY position " \
                      f"LIMIT {mark}"
                args: list[Any] = [*params, limit]
            elif sqlite:
                sql = (f"SELECT {COLUMN_LIST} FROM events WHERE {where} "
                       f"AND type IN ({', '.join('?' * len(wanted))}) ORDER BY position LIMIT ?")
                args = [*params, *wanted, limit]
            else:
                parts = [f"(SELECT {COLUMN_LIST} FROM events WHERE type = %s AND {where} "
                         f"ORDER BY position LIMIT %s)" for _ in wanted]
                sql = (f"SELECT {COLUMN_LIST} FROM ({' UNION ALL '.join(parts)}) AS by_type "
                       "ORDER BY position LIMIT %s")
                args = [value for name in wanted for value in (name, *params, limit)] + [limit]
            rows = c.exec_driver_sql(sql, tuple(args)).all()
        return decode_rows(rows, upcast)

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
        prev_hash = GENESIS_HASH
        expected_position = 1
        checked = 0
        for event in self.read(upcast=False, page_size=5000):
            if event.position != expected_position:
                return VerifyResult(False, checked, expected_position,
                                    f"position {expected_position} is missing")
            if event.prev_hash != prev_hash:
                return VerifyResult(False, checked, event.position,
                                    "prev_hash does not match the previous event's hash")
            if recorded_hash(event) != event.hash:
                return VerifyResult(False, checked, event.position,
                                    "content does not match its hash")
            prev_hash = event.hash
            expected_position += 1
            checked += 1
            if progress is not None:
                progress(1)
        return VerifyResult(True, checked)


def _where(sqlite: bool, *, after: int, stream_id: str | None = None,
           recorded_until: datetime | None = None, occurred_since: datetime | None = None,
           occurred_by: datetime | None = None,
           until_position: int | None = None) -> tuple[str, list[Any]]:
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


__all__ = ["ANY", "APPEND_LOCK_KEY", "Clock", "EventStore", "Head", "VerifyResult", "system_clock"]
