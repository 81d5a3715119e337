"""The append hot path: one query for the log's state, rows chained and hashed in Python, one
``executemany`` through the DBAPI cursor.

Values go to the driver in their stored form: the canonical JSON text the hash is computed over
is the text stored, and SQLite timestamps are formatted as SQLAlchemy's SQLite DateTime stores
them (PostgreSQL gets the datetimes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tracker import catalogue
from tracker.dates import iso, utc
from tracker.errors import TrackerError
from tracker.events import GENESIS_HASH, NewEvent, RecordedEvent, chain_hash
from tracker.store.codec import COLUMN_LIST, COLUMNS, decode_json, encode, sqlite_timestamp

INSERT_SQLITE = f"INSERT INTO events ({COLUMN_LIST}) VALUES ({', '.join(['?'] * len(COLUMNS))})"
INSERT_PG = f"INSERT INTO events ({COLUMN_LIST}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"

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


@dataclass(frozen=True, slots=True)
class AppendState:
    stream_version: int
    head_position: int
    head_hash: str
    head_recorded_at: datetime | None
    stored_ids: list[str]


def append_state(conn: sa.Connection, sqlite: bool, stream_id: str,
                 ids: list[str]) -> AppendState:
    if sqlite:
        row = conn.exec_driver_sql(_STATE_SQLITE, (stream_id, json.dumps(ids))).one()
        stored = json.loads(row[1]) if row[1] != "[]" else []
        recorded_at = utc(datetime.fromisoformat(row[4])) if row[4] is not None else None
    else:
        row = conn.exec_driver_sql(_STATE_PG, {"stream": stream_id, "ids": ids}).one()
        stored = list(row[1] or ())
        recorded_at = utc(row[4]) if row[4] is not None else None
    if row[2] is None:
        return AppendState(int(row[0] or 0), 0, GENESIS_HASH, None, stored)
    return AppendState(int(row[0] or 0), int(row[2]), str(row[3]), recorded_at, stored)


def chain(fresh: Sequence[NewEvent], stream_id: str, version: int, position: int,
          prev_hash: str, now: datetime, sqlite: bool,
          inline_hash: bool = True) -> tuple[list[tuple[Any, ...]], list[RecordedEvent]]:
    """The rows to insert and the events they record, each hash chained to the one before.

    Each event's data and meta are encoded once: that text is hashed, stored, and decoded for
    the returned event (so it equals what a later read gives back).
    """
    recorded_at = iso(now)
    stored_now: Any = sqlite_timestamp(now) if sqlite else now
    decode, sha256 = decode_json, hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    recorded: list[RecordedEvent] = []
    for event in fresh:
        check_required_fields(event)
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
