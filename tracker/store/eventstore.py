"""The append-only event store (SQLAlchemy Core).

Appends are serialized by a database lock held for the length of the transaction, so positions
are dense and become visible in commit order, and each event's hash can chain to the previous one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker import catalogue
from tracker.db import is_sqlite, write_connection
from tracker.errors import ConcurrencyError, DuplicateEventError, TrackerError
from tracker.events import (
    GENESIS_HASH,
    NewEvent,
    RecordedEvent,
    canonical_json,
    chain_hash,
    iso,
    new_content,
    period_end,
    recorded_hash,
    utc,
)
from tracker.store.schema import events

#: ``expected_version`` value meaning "append whatever the stream's version".
ANY: Final = None

#: Key of the PostgreSQL advisory lock that serializes appends ("tracker" in ASCII).
APPEND_LOCK_KEY: Final = 0x747261636B6572

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_position: int | None = None
    reason: str | None = None


_COLUMNS = [
    events.c.position, events.c.event_id, events.c.stream_id, events.c.stream_version,
    events.c.type, events.c.schema_version, events.c.occurred_at, events.c.occurred_precision,
    events.c.recorded_at, events.c.data, events.c.meta, events.c.prev_hash, events.c.hash,
]


def _load_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _row_to_event(row: sa.Row[Any], upcast: bool = True) -> RecordedEvent:
    data = _load_json(row.data)
    version = row.schema_version
    if upcast:
        version, data = catalogue.upcast(row.type, version, data)
    return RecordedEvent(
        position=row.position, event_id=row.event_id, stream_id=row.stream_id,
        stream_version=row.stream_version, type=row.type, schema_version=version,
        occurred_at=utc(row.occurred_at), occurred_precision=row.occurred_precision,
        recorded_at=utc(row.recorded_at), data=data, meta=_load_json(row.meta),
        prev_hash=row.prev_hash, hash=row.hash,
    )


class EventStore:
    """Append, read and verify the log. The engine and the clock are handed in."""

    def __init__(self, engine: Engine, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    # -- writing ---------------------------------------------------------------------------

    def append(self, stream_id: str, new_events: Sequence[NewEvent],
               expected_version: int | None = ANY) -> list[RecordedEvent]:
        """Append ``new_events`` to ``stream_id`` atomically; see ``append_in``."""
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
        self._lock(conn)
        existing = self._existing(conn, [e.event_id for e in new_events])
        fresh: list[NewEvent] = []
        already: list[RecordedEvent] = []
        for event in new_events:
            stored = existing.get(event.event_id)
            if stored is None:
                fresh.append(event)
                continue
            if stored.content() != _roundtrip(new_content(event, stream_id)):
                raise DuplicateEventError(
                    f"event {event.event_id} is already stored at position {stored.position} "
                    "with different content")
            already.append(stored)
        if len({e.event_id for e in fresh}) != len(fresh):
            raise DuplicateEventError("the batch holds the same event id twice")
        if not fresh:
            return already
        version = self._stream_version(conn, stream_id)
        if expected_version is not None and not already and version != expected_version:
            raise ConcurrencyError(
                f"stream {stream_id!r} is at version {version}, expected {expected_version}")
        head = conn.execute(
            sa.select(events.c.position, events.c.hash, events.c.recorded_at)
            .order_by(events.c.position.desc()).limit(1)).first()
        position, prev_hash = (head.position, head.hash) if head else (0, GENESIS_HASH)
        now = utc(self.clock())
        if head is not None and utc(head.recorded_at) > now:
            now = utc(head.recorded_at)  # recorded_at never goes backwards along the log
        recorded_at = iso(now)
        rows: list[dict[str, Any]] = []
        recorded: list[RecordedEvent] = []
        for event in fresh:
            _check_type(event)
            position += 1
            version += 1
            data_json = canonical_json(event.data)
            meta_json = canonical_json(event.meta)
            occurred = iso(event.occurred_at)
            digest = chain_hash(prev_hash, position=position, event_id=event.event_id,
                                stream_id=stream_id, stream_version=version, type=event.type,
                                schema_version=event.schema_version, occurred_at=occurred,
                                occurred_precision=event.occurred_precision,
                                recorded_at=recorded_at, data_json=data_json,
                                meta_json=meta_json)
            rows.append({
                "position": position, "event_id": event.event_id, "stream_id": stream_id,
                "stream_version": version, "type": event.type,
                "schema_version": event.schema_version, "occurred_at": event.occurred_at,
                "occurred_precision": event.occurred_precision, "recorded_at": now,
                "data": json.loads(data_json), "meta": json.loads(meta_json),
                "prev_hash": prev_hash, "hash": digest,
            })
            recorded.append(RecordedEvent(
                position=position, event_id=event.event_id, stream_id=stream_id,
                stream_version=version, type=event.type, schema_version=event.schema_version,
                occurred_at=event.occurred_at, occurred_precision=event.occurred_precision,
                recorded_at=now, data=rows[-1]["data"], meta=rows[-1]["meta"],
                prev_hash=prev_hash, hash=digest))
            prev_hash = digest
        try:
            conn.execute(events.insert(), rows)
        except sa.exc.IntegrityError as exc:
            raise ConcurrencyError(f"append to {stream_id!r} conflicted: {exc.orig}") from None
        return already + recorded

    def _lock(self, conn: sa.Connection) -> None:
        if is_sqlite(conn):
            return  # the transaction began with BEGIN IMMEDIATE: the write lock is held
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})

    def _existing(self, conn: sa.Connection, ids: list[str]) -> dict[str, RecordedEvent]:
        found: dict[str, RecordedEvent] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in conn.execute(sa.select(*_COLUMNS).where(events.c.event_id.in_(chunk))):
                found[row.event_id] = _row_to_event(row, upcast=False)
        return found

    def _stream_version(self, conn: sa.Connection, stream_id: str) -> int:
        version = conn.execute(sa.select(sa.func.max(events.c.stream_version))
                               .where(events.c.stream_id == stream_id)).scalar()
        return int(version or 0)

    # -- reading ---------------------------------------------------------------------------

    def head(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.position))).scalar() or 0)

    def stream_version(self, stream_id: str) -> int:
        with self.engine.connect() as conn:
            return self._stream_version(conn, stream_id)

    def get(self, position: int) -> RecordedEvent | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_COLUMNS).where(events.c.position == position)).first()
        return _row_to_event(row) if row else None

    def read(self, *, after: int = 0, limit: int | None = None, stream_id: str | None = None,
             types: Iterable[str] | None = None, recorded_until: datetime | None = None,
             occurred_by: datetime | None = None, until_position: int | None = None,
             page_size: int = 1000, upcast: bool = True) -> Iterator[RecordedEvent]:
        """Events in position order, fetched page by page (keyset on position).

        ``recorded_until``: recorded_at <= it. ``occurred_by``: the event's whole period (its
        occurred_at at its precision) ended by then, i.e. it had certainly happened.
        """
        query = sa.select(*_COLUMNS).order_by(events.c.position)
        if stream_id is not None:
            query = query.where(events.c.stream_id == stream_id)
        type_list = list(types) if types is not None else None
        if type_list is not None:
            query = query.where(events.c.type.in_(type_list))
        if recorded_until is not None:
            query = query.where(events.c.recorded_at <= utc(recorded_until))
        if occurred_by is not None:
            query = query.where(events.c.occurred_at <= utc(occurred_by))
        if until_position is not None:
            query = query.where(events.c.position <= until_position)
        remaining = limit
        cursor = after
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            with self.engine.connect() as conn:
                rows = conn.execute(query.where(events.c.position > cursor).limit(size)).all()
            if not rows:
                return
            for row in rows:
                event = _row_to_event(row, upcast)
                if occurred_by is not None and period_end(
                        event.occurred_at, event.occurred_precision) > utc(occurred_by):
                    continue
                yield event
            cursor = rows[-1].position
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < size:
                return

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


def _roundtrip(content: dict[str, Any]) -> dict[str, Any]:
    """Content as it reads back from the database (JSON round trip), for comparison."""
    result: dict[str, Any] = json.loads(canonical_json(content))
    return result


def _check_type(event: NewEvent) -> None:
    if event.type in catalogue.CATALOGUE:
        missing = catalogue.missing_fields(event.type, event.data)
        if missing:
            raise TrackerError(f"{event.type} event lacks required field(s): {', '.join(missing)}")
