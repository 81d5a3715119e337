"""The append-only event store (SQLAlchemy Core).

Appends are serialized by a database lock held for the length of the transaction, so positions
are dense and become visible in commit order, and each event's hash can chain to the previous one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker import catalogue
from tracker.db import is_sqlite, retrying, write_connection
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

_LOCKED_IN: Final = "tracker_append_lock_transaction"

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


EVENT_COLUMNS = [
    events.c.position, events.c.event_id, events.c.stream_id, events.c.stream_version,
    events.c.type, events.c.schema_version, events.c.occurred_at, events.c.occurred_precision,
    events.c.recorded_at, events.c.data, events.c.meta, events.c.prev_hash, events.c.hash,
]


def load_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def row_to_event(row: sa.Row[Any], upcast: bool = True) -> RecordedEvent:
    data = load_json(row.data)
    version = row.schema_version
    if upcast:
        version, data = catalogue.upcast(row.type, version, data)
    return RecordedEvent(
        position=row.position, event_id=row.event_id, stream_id=row.stream_id,
        stream_version=row.stream_version, type=row.type, schema_version=version,
        occurred_at=utc(row.occurred_at), occurred_precision=row.occurred_precision,
        recorded_at=utc(row.recorded_at), data=data, meta=load_json(row.meta),
        prev_hash=row.prev_hash, hash=row.hash,
    )


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
        version, position, prev_hash, head_recorded_at, stored_ids = _state(
            conn, sqlite, stream_id, [e.event_id for e in new_events])
        fresh: Sequence[NewEvent] = new_events
        already: list[RecordedEvent] = []
        if stored_ids:  # the rare path: some of the batch was appended before
            existing = self._existing(conn, stored_ids)
            fresh = []
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
        if expected_version is not None and not already and version != expected_version:
            raise ConcurrencyError(
                f"stream {stream_id!r} is at version {version}, expected {expected_version}")
        now = utc(self.clock())
        if head_recorded_at is not None and head_recorded_at > now:
            now = head_recorded_at  # recorded_at never goes backwards along the log
        rows, recorded = _chain(fresh, stream_id, version, position, prev_hash, now, sqlite,
                                _INLINE_HASH)
        try:
            conn.exec_driver_sql(_INSERT_SQLITE if sqlite else _INSERT_PG, rows)
        except sa.exc.IntegrityError as exc:
            raise ConcurrencyError(f"append to {stream_id!r} conflicted: {exc.orig}") from None
        return already + recorded

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

    def _existing(self, conn: sa.Connection, ids: list[str]) -> dict[str, RecordedEvent]:
        found: dict[str, RecordedEvent] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in conn.execute(sa.select(*EVENT_COLUMNS).where(events.c.event_id.in_(chunk))):
                found[row.event_id] = row_to_event(row, upcast=False)
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
            row = conn.execute(sa.select(*EVENT_COLUMNS)
                               .where(events.c.position == position)).first()
        return row_to_event(row) if row else None

    def read(self, *, after: int = 0, limit: int | None = None, stream_id: str | None = None,
             types: Iterable[str] | None = None, recorded_until: datetime | None = None,
             occurred_by: datetime | None = None, until_position: int | None = None,
             page_size: int = 1000, upcast: bool = True) -> Iterator[RecordedEvent]:
        """Events in position order, fetched page by page (keyset on position).

        ``recorded_until``: recorded_at <= it. ``occurred_by``: the event's whole period (its
        occurred_at at its precision) ended by then, i.e. it had certainly happened.
        """
        remaining = limit
        cursor = after
        by = utc(occurred_by) if occurred_by is not None else None
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            with self.engine.connect() as conn:
                page = select_events(conn, after=cursor, limit=size, stream_id=stream_id,
                                     types=types, recorded_until=recorded_until,
                                     occurred_by=by, until_position=until_position,
                                     upcast=upcast)
            if not page:
                return
            for event in page:
                if by is not None and period_end(event.occurred_at,
                                                 event.occurred_precision) > by:
                    continue
                yield event
            cursor = page[-1].position
            if remaining is not None:
                remaining -= len(page)
            if len(page) < size:
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


# -- the append hot path ---------------------------------------------------------------------
#
# Appends write through the DBAPI cursor with values already in their stored form: the canonical
# JSON text the hash is computed over is the text stored, and SQLite timestamps are formatted as
# SQLAlchemy's SQLite DateTime stores them (PostgreSQL gets the datetimes).

_INSERT_COLUMNS = ", ".join(c.name for c in EVENT_COLUMNS)
_INSERT_SQLITE = f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES ({', '.join(['?'] * 13)})"
_INSERT_PG = f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * 13)})"

# The stream's version, the log's head, and which of the ids are stored already: one statement,
# one round trip. The ids go in as one parameter (a JSON array / a text[]) whatever the batch size.
_STATE_SQLITE = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = ?),
       (SELECT json_group_array(event_id) FROM events
         WHERE event_id IN (SELECT value FROM json_each(?))),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON 1 = 1
"""
_STATE_PG = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = %(stream)s),
       (SELECT array_agg(event_id) FROM events WHERE event_id = ANY(%(ids)s)),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON true
"""


def _state(conn: sa.Connection, sqlite: bool, stream_id: str,
           ids: list[str]) -> tuple[int, int, str, datetime | None, list[str]]:
    """(stream version, head position, head hash, head recorded_at, ids already stored)."""
    if sqlite:
        row = conn.exec_driver_sql(_STATE_SQLITE, (stream_id, json.dumps(ids))).one()
        stored = json.loads(row[1]) if row[1] != "[]" else []
        recorded_at = utc(datetime.fromisoformat(row[4])) if row[4] is not None else None
    else:
        row = conn.exec_driver_sql(_STATE_PG, {"stream": stream_id, "ids": ids}).one()
        stored = list(row[1] or ())
        recorded_at = utc(row[4]) if row[4] is not None else None
    if row[2] is None:
        return int(row[0] or 0), 0, GENESIS_HASH, None, stored
    return int(row[0] or 0), int(row[2]), str(row[3]), recorded_at, stored


def _chain(fresh: Sequence[NewEvent], stream_id: str, version: int, position: int,
           prev_hash: str, now: datetime, sqlite: bool,
           inline_hash: bool = True) -> tuple[list[tuple[Any, ...]], list[RecordedEvent]]:
    """The rows to insert and the events they record, each hash chained to the one before.

    Each event's data and meta are encoded once: that text is hashed, stored, and decoded for
    the returned event (so it equals what a later read gives back).
    """
    recorded_at = iso(now)
    stored_now: Any = _sqlite_timestamp(now) if sqlite else now
    encode, decode, sha256 = _encode, decode_json, hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    recorded: list[RecordedEvent] = []
    for event in fresh:
        _check_type(event)
        position += 1
        version += 1
        event_id, type_, schema_version = event.event_id, event.type, event.schema_version
        precision, occurred = event.occurred_precision, event.occurred_at
        data_json = encode(event.data)
        meta_json = encode(event.meta)
        stored_occurred: Any = occurred
        if occurred.tzinfo is UTC and occurred.year >= 1000:  # iso(), without strftime's cost
            occurred_iso = _ISO_FORMAT % (occurred.year, occurred.month, occurred.day,
                                          occurred.hour, occurred.minute, occurred.second,
                                          occurred.microsecond)
            if sqlite:
                stored_occurred = f"{occurred_iso[:10]} {occurred_iso[11:26]}"
        else:  # another zone, or a year below 1000 (which strftime may not pad)
            occurred_iso = iso(occurred)
            if sqlite:
                stored_occurred = _sqlite_timestamp(utc(occurred))
        if inline_hash:  # chain_hash's encoding spelled out; _INLINE_HASH checks they agree
            digest = sha256(
                f"{prev_hash}\x1f{position!s}\x1f{event_id}\x1f{stream_id}\x1f{version!s}\x1f"
                f"{type_}\x1f{schema_version!s}\x1f{occurred_iso}\x1f{precision}\x1f{recorded_at}"
                f"\x1e{data_json}\x1e{meta_json}".encode()).hexdigest()
        else:
            digest = chain_hash(prev_hash, position=position, event_id=event_id,
                                stream_id=stream_id, stream_version=version, type=type_,
                                schema_version=schema_version, occurred_at=occurred_iso,
                                occurred_precision=precision, recorded_at=recorded_at,
                                data_json=data_json, meta_json=meta_json)
        rows.append((position, event_id, stream_id, version, type_, schema_version,
                     stored_occurred, precision, stored_now, data_json, meta_json, prev_hash,
                     digest))
        recorded.append(RecordedEvent(
            position=position, event_id=event_id, stream_id=stream_id, stream_version=version,
            type=type_, schema_version=schema_version, occurred_at=occurred,
            occurred_precision=precision, recorded_at=now, data=decode(data_json),
            meta=decode(meta_json), prev_hash=prev_hash, hash=digest))
        prev_hash = digest
    return rows, recorded


_ISO_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"  # what iso() gives for years 1000..9999


def _sqlite_timestamp(dt: datetime) -> str:
    """``dt`` (UTC) as SQLAlchemy's SQLite DateTime stores it: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return dt.replace(tzinfo=None).isoformat(" ", "microseconds")


def _make_encoder() -> Callable[[Any], str]:
    """``canonical_json`` without its per-call set-up: the C encoder, configured once.

    Any failure (unserialisable value, NaN, a cycle) is handed to ``canonical_json`` so callers
    see exactly its errors; without the C accelerator it is ``canonical_json`` itself.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return canonical_json
    try:
        encoder = make(None, json.JSONEncoder().default, json.encoder.encode_basestring, None,
                       ":", ",", True, False, False)
    except TypeError:  # another interpreter's signature
        return canonical_json

    def encode(value: Any) -> str:
        try:
            return "".join(encoder(value, 0))
        except Exception:
            return canonical_json(value)

    sample = {"b": [1, 2.5, None, True, "\u00e9\n\"x"], "a": {"z": {}, "y": []}, "é": -0.0}
    return encode if encode(sample) == canonical_json(sample) else canonical_json


_encode = _make_encoder()
_raw_decode = json.JSONDecoder().raw_decode


def decode_json(text: str) -> Any:
    """``json.loads`` of text this module encoded (valid and whole: no trailing-data check)."""
    return _raw_decode(text)[0]


def _roundtrip(content: dict[str, Any]) -> dict[str, Any]:
    """Content as it reads back from the database (JSON round trip), for comparison."""
    result: dict[str, Any] = json.loads(canonical_json(content))
    return result


_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(spec.required) for name, spec in catalogue.CATALOGUE.items()}


def _check_type(event: NewEvent) -> None:
    required = _REQUIRED.get(event.type)
    if required and not required.issubset(event.data):
        missing = catalogue.missing_fields(event.type, event.data)
        raise TrackerError(f"{event.type} event lacks required field(s): {', '.join(missing)}")


def _inline_hash_agrees() -> bool:
    """Whether ``_chain``'s spelled-out digest is ``chain_hash``'s; if not, it calls chain_hash."""
    event = NewEvent("check.x", {"a": "\u00e9"}, datetime(2025, 4, 1, 9, tzinfo=UTC), "day",
                     {"b": [1]}, "e-1", 2)
    now = datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    [row], _ = _chain([event], "s", 2, 11, "f" * 64, now, True, inline_hash=True)
    return bool(row[12] == chain_hash(
        "f" * 64, position=12, event_id="e-1", stream_id="s", stream_version=3, type="check.x",
        schema_version=2, occurred_at=iso(event.occurred_at), occurred_precision="day",
        recorded_at=iso(now), data_json=canonical_json(event.data),
        meta_json=canonical_json(event.meta)))


_INLINE_HASH = _inline_hash_agrees()


_SELECT_COLUMNS = ", ".join(c.name for c in EVENT_COLUMNS)


def select_events(conn: sa.Connection, *, after: int, limit: int,
                  types: Iterable[str] | None = None, stream_id: str | None = None,
                  recorded_until: datetime | None = None, occurred_by: datetime | None = None,
                  until_position: int | None = None, upcast: bool = True) -> list[RecordedEvent]:
    """Up to ``limit`` events after position ``after`` matching the filters, in order.

    The readers' hot path: plain SQL through the DBAPI cursor, rows decoded here (SQLAlchemy's
    per-value result processing was most of a rebuild's reading cost). On PostgreSQL a type
    filter becomes one index range per type, merged in position order, so a rare type is not
    found by walking the whole log.
    """
    sqlite = is_sqlite(conn)
    mark = "?" if sqlite else "%s"
    conditions = [f"position > {mark}"]
    params: list[Any] = [after]
    if stream_id is not None:
        conditions.append(f"stream_id = {mark}")
        params.append(stream_id)
    if recorded_until is not None:
        conditions.append(f"recorded_at <= {mark}")
        params.append(_sqlite_timestamp(utc(recorded_until)) if sqlite else utc(recorded_until))
    if occurred_by is not None:
        conditions.append(f"occurred_at <= {mark}")
        params.append(_sqlite_timestamp(utc(occurred_by)) if sqlite else utc(occurred_by))
    if until_position is not None:
        conditions.append(f"position <= {mark}")
        params.append(until_position)
    where = " AND ".join(conditions)
    wanted = sorted(set(types)) if types is not None else None
    if wanted is not None and not wanted:
        return []
    if wanted is None:
        sql = f"SELECT {_SELECT_COLUMNS} FROM events WHERE {where} ORDER BY position LIMIT {mark}"
        args: list[Any] = [*params, limit]
    elif sqlite:
        sql = (f"SELECT {_SELECT_COLUMNS} FROM events WHERE {where} "
               f"AND type IN ({', '.join('?' * len(wanted))}) ORDER BY position LIMIT ?")
        args = [*params, *wanted, limit]
    else:
        parts = [f"(SELECT {_SELECT_COLUMNS} FROM events WHERE type = %s AND {where} "
                 f"ORDER BY position LIMIT %s)" for _ in wanted]
        sql = (f"SELECT {_SELECT_COLUMNS} FROM ({' UNION ALL '.join(parts)}) AS by_type "
               "ORDER BY position LIMIT %s")
        args = [value for name in wanted for value in (name, *params, limit)] + [limit]
    rows = conn.exec_driver_sql(sql, tuple(args)).all()
    return events_from_rows(rows, upcast)


def _json(value: Any) -> Any:
    """A JSON column's value: text as the store wrote it, decoded; drivers' objects as given."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return decode_json(value) if isinstance(value, str) else load_json(value)
    except ValueError:  # not the store's own text (leading space...): the strict decoder
        return load_json(value)


def events_from_rows(rows: Sequence[Any], upcast: bool = True) -> list[RecordedEvent]:
    """Raw ``EVENT_COLUMNS`` rows as events: what ``row_to_event`` gives, decoded directly."""
    stamps: dict[Any, datetime] = {}

    def when(value: Any) -> datetime:
        found = stamps.get(value)
        if found is None:
            found = utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
            stamps[value] = found
        return found

    lift, current = catalogue.upcast, catalogue.CATALOGUE
    out: list[RecordedEvent] = []
    for (position, event_id, stream_id, stream_version, type_, version, occurred_at,
         precision, recorded_at, data, meta, prev_hash, hash_) in rows:
        data = _json(data)
        if upcast:
            spec = current.get(type_)
            if spec is not None and version < spec.version:
                version, data = lift(type_, version, data)
        out.append(RecordedEvent(
            position=position, event_id=event_id, stream_id=stream_id,
            stream_version=stream_version, type=type_, schema_version=version,
            occurred_at=when(occurred_at), occurred_precision=precision,
            recorded_at=when(recorded_at), data=data, meta=_json(meta), prev_hash=prev_hash,
            hash=hash_))
    return out
