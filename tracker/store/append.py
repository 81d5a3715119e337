"""The append hot path: one query for the log's state, rows chained and hashed in Python, one
insert through the DBAPI connection: ``executemany`` on SQLite and for small PostgreSQL batches,
``COPY ... FROM STDIN`` for PostgreSQL batches of ``COPY_MIN_ROWS`` or more.

Values go to the driver in their stored form: the canonical JSON text the hash is computed over
is the text stored, and SQLite timestamps are formatted as SQLAlchemy's SQLite DateTime stores
them (PostgreSQL gets the datetimes). Driver errors are raised as SQLAlchemy's exceptions, as
``exec_driver_sql`` raises them, so retries and conflict handling see the same errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tracker import catalogue
from tracker.dates import iso, utc
from tracker.errors import TrackerError
from tracker.events import GENESIS_HASH, NewEvent, RecordedEvent, chain_hash, recorded_event
from tracker.store.codec import COLUMN_LIST, COLUMNS, decode_json, encode, sqlite_timestamp

INSERT_SQLITE = f"INSERT INTO events ({COLUMN_LIST}) VALUES ({', '.join(['?'] * len(COLUMNS))})"
INSERT_PG = f"INSERT INTO events ({COLUMN_LIST}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
COPY_PG = f"COPY events ({COLUMN_LIST}) FROM STDIN"

#: PostgreSQL batches of this many rows or more are written with COPY: about twice as fast as
#: a pipelined ``executemany`` at 1,000 rows; below a few dozen rows its set-up costs more.
COPY_MIN_ROWS = 50

#: Key of the PostgreSQL advisory lock that serializes appends ("tracker" in ASCII).
APPEND_LOCK_KEY = 0x747261636B6572
LOCK_PG = "SELECT pg_advisory_xact_lock(%s)"
#: The lock for a single event's append in a transaction of its own, whose state query may
#: then keep a generic plan (no parameters: psycopg sends the three statements in one message).
#: Connections plan every execution afresh (``plan_cache_mode=force_custom_plan``, see
#: ``tracker.db``), which was most of the state query's cost: about 0.25 ms of planning for
#: 0.05 ms of work. Without sequential scans a generic plan made on a nearly empty log (the
#: trap ``force_custom_plan`` guards against: a sequential scan kept as the log grows) can only
#: be the index lookups that suit every size.
LOCK_PG_PLANNED = ("SET LOCAL plan_cache_mode = auto; SET LOCAL enable_seqscan = off; "
                   f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})")

# The stream's version, the log's head, and which of the ids are stored already: one statement,
# one round trip. The ids go in as one parameter, a JSON array, whatever the batch size (psycopg
# builds a text[] parameter in Python, 2 µs an id); a single id is compared directly (unpacking
# a JSON array costs more than the rest of the statement).
_STATE_SQLITE = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = ?),
       (SELECT json_group_array(event_id) FROM events
         WHERE event_id IN (SELECT value FROM json_each(?))),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON 1 = 1
"""
_STATE_SQLITE_ONE = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = ?),
       (SELECT event_id FROM events WHERE event_id = ?),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON 1 = 1
"""
_STATE_PG_ONE = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = %(stream)s),
       (SELECT array_agg(event_id) FROM events WHERE event_id = %(id)s),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON true
"""
_STATE_PG = """
SELECT (SELECT max(stream_version) FROM events WHERE stream_id = %(stream)s),
       (SELECT array_agg(event_id) FROM events
         WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text(%(ids)s::json)))),
       h.position, h.hash, h.recorded_at
FROM (SELECT 1) AS one
LEFT JOIN (SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1) AS h
  ON true
"""


@dataclass(frozen=True, slots=True)
class AppendState:
    stream_version: int
    head_position: int
    head_hash: str
    head_recorded_at: datetime | None
    stored_ids: list[str]


@contextlib.contextmanager
def translated(dialect: sa.Dialect, statement: str = "append",
               dbapi: Any = None) -> Iterator[None]:
    """Raise a driver error as the SQLAlchemy exception ``exec_driver_sql`` would raise
    (``IntegrityError``, ``OperationalError``...), so ``retrying`` and the conflict handling see
    no difference. With ``dbapi``, a dropped connection is marked ``connection_invalidated``
    (the caller invalidates it in its pool)."""
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        dropped = dbapi is not None and dialect.is_disconnect(exc, dbapi, None)
        raise sa.exc.DBAPIError.instance(statement, None, exc, base, dialect=dialect,
                                         connection_invalidated=dropped) from exc


def append_state(cursor: Any, sqlite: bool, stream_id: str, ids: list[str],
                 lock: bool = False) -> AppendState:
    """The state an append starts from, read with the DBAPI ``cursor`` (in its transaction);
    with ``lock`` (PostgreSQL), after taking the append lock in a statement of its own (so the
    state query's snapshot, under READ COMMITTED, is taken once the lock is held). Pipelining
    the two measured no faster: psycopg's pipeline costs what the round trip saves. For a
    single event the lock is ``LOCK_PG_PLANNED``: the state query may keep a generic plan."""
    if sqlite:
        if len(ids) == 1:
            row = cursor.execute(_STATE_SQLITE_ONE, (stream_id, ids[0])).fetchone()
            stored = [row[1]] if row[1] is not None else []
        else:
            row = cursor.execute(_STATE_SQLITE, (stream_id, json.dumps(ids))).fetchone()
            stored = json.loads(row[1]) if row[1] != "[]" else []
        recorded_at = utc(datetime.fromisoformat(row[4])) if row[4] is not None else None
    else:
        if lock and len(ids) == 1:
            cursor.execute(LOCK_PG_PLANNED)
        elif lock:  # a batch's state query planned for its ids measured faster (a tenth)
            cursor.execute(LOCK_PG, (APPEND_LOCK_KEY,))
        if len(ids) == 1:
            cursor.execute(_STATE_PG_ONE, {"stream": stream_id, "id": ids[0]})
        else:
            cursor.execute(_STATE_PG, {"stream": stream_id, "ids": json.dumps(ids)})
        row = cursor.fetchone()
        stored = list(row[1] or ())
        recorded_at = utc(row[4]) if row[4] is not None else None
    if row[2] is None:
        return AppendState(int(row[0] or 0), 0, GENESIS_HASH, None, stored)
    return AppendState(int(row[0] or 0), int(row[2]), str(row[3]), recorded_at, stored)


def stored_rows(cursor: Any, sqlite: bool, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """The stored rows (``COLUMNS``) among ``ids``, read with the DBAPI ``cursor``."""
    mark = "?" if sqlite else "%s"
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = tuple(ids[start:start + _ID_CHUNK])
        cursor.execute(f"SELECT {COLUMN_LIST} FROM events "
                       f"WHERE event_id IN ({', '.join([mark] * len(chunk))})", chunk)
        out.extend(tuple(row) for row in cursor.fetchall())
    return out


_ID_CHUNK = 500  # ids per IN (...) lookup


def insert_rows(cursor: Any, sqlite: bool, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows of ``COLUMNS``, in their stored form, with the DBAPI ``cursor`` (in its
    transaction): a unique violation raises the driver's IntegrityError either way."""
    if sqlite or len(rows) < COPY_MIN_ROWS:
        if len(rows) == 1:  # PostgreSQL's executemany would add a pipeline sync: a round trip
            cursor.execute(INSERT_SQLITE if sqlite else INSERT_PG, rows[0])
        else:
            cursor.executemany(INSERT_SQLITE if sqlite else INSERT_PG, rows)
        return
    with cursor.copy(COPY_PG) as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def chain(fresh: Sequence[NewEvent], stream_id: str, version: int, position: int,
          prev_hash: str, now: datetime, sqlite: bool, inline_hash: bool = True,
          events: bool = True) -> tuple[list[tuple[Any, ...]], list[RecordedEvent]]:
    """The rows to insert and the events they record, each hash chained to the one before.

    Each event's data and meta are encoded once: that text is hashed, stored, and decoded for
    the returned event (so it equals what a later read gives back). With ``events`` false no
    events are built (the list is empty): callers that only need positions skip decoding
    what they just encoded, about half of this function's cost.
    """
    if now.tzinfo is UTC and now.year >= 1000:  # as for occurred_at below
        recorded_at = _ISO_FORMAT % (now.year, now.month, now.day, now.hour, now.minute,
                                     now.second, now.microsecond)
        stored_now: Any = f"{recorded_at[:10]} {recorded_at[11:26]}" if sqlite else now
    else:
        recorded_at = iso(now)
        stored_now = sqlite_timestamp(now) if sqlite else now
    decode, sha256, encode_json, required = decode_json, hashlib.sha256, encode, _REQUIRED
    make = recorded_event
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    recorded: list[RecordedEvent] = []
    for event in fresh:
        type_, data = event.type, event.data
        needed = required.get(type_)
        if needed and not needed.issubset(data):
            check_required_fields(event)  # raises, naming what is missing
        position += 1
        version += 1
        event_id, schema_version = event.event_id, event.schema_version
        precision, occurred = event.occurred_precision, event.occurred_at
        data_json = encode_json(data)
        meta_json = encode_json(event.meta)
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
                stored_occurred = sqlite_timestamp(utc(occurred))
        if inline_hash:  # chain_hash's encoding spelled out; INLINE_HASH checks they agree
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
        add((position, event_id, stream_id, version, type_, schema_version, stored_occurred,
             precision, stored_now, data_json, meta_json, prev_hash, digest))
        if events:  # meta stays text until read, as for events read back
            recorded.append(make(position, event_id, stream_id, version, type_, schema_version,
                                 occurred, precision, now, decode(data_json), meta_json,
                                 prev_hash, digest))
        prev_hash = digest
    return rows, recorded


_ISO_FORMAT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"  # what iso() gives for years 1000..9999

_REQUIRED: dict[str, frozenset[str]] = {
    name: frozenset(spec.required) for name, spec in catalogue.CATALOGUE.items()}


def check_required_fields(event: NewEvent) -> None:
    required = _REQUIRED.get(event.type)
    if required and not required.issubset(event.data):
        missing = catalogue.missing_fields(event.type, event.data)
        raise TrackerError(f"{event.type} event lacks required field(s): {', '.join(missing)}")


def _inline_hash_agrees() -> bool:
    """Whether ``chain``'s spelled-out digest is ``chain_hash``'s; if not, it calls chain_hash."""
    from tracker.events import canonical_json

    event = NewEvent("check.x", {"a": "\u00e9"}, datetime(2025, 4, 1, 9, tzinfo=UTC), "day",
                     {"b": [1]}, "e-1", 2)
    now = datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    [row], _ = chain([event], "s", 2, 11, "f" * 64, now, True, inline_hash=True)
    return bool(row[12] == chain_hash(
        "f" * 64, position=12, event_id="e-1", stream_id="s", stream_version=3, type="check.x",
        schema_version=2, occurred_at=iso(event.occurred_at), occurred_precision="day",
        recorded_at=iso(now), data_json=canonical_json(event.data),
        meta_json=canonical_json(event.meta)))


INLINE_HASH = _inline_hash_agrees()
