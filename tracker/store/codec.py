"""Rows to events and back: the one decoder of stored events, and the only place they are
upcast to the catalogue's current schema versions.

Values are handled in their stored form: the canonical JSON text the hash is computed over is
the text stored, and SQLite timestamps are text in SQLAlchemy's SQLite ``DateTime`` format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tracker import catalogue
from tracker.dates import utc
from tracker.events import RecordedEvent, canonical_json

#: The events table's columns, in the order every query selects and inserts them.
COLUMNS: tuple[str, ...] = (
    "position", "event_id", "stream_id", "stream_version", "type", "schema_version",
    "occurred_at", "occurred_precision", "recorded_at", "data", "meta", "prev_hash", "hash",
)
COLUMN_LIST = ", ".join(COLUMNS)


def sqlite_timestamp(dt: datetime) -> str:
    """``dt`` (UTC) as SQLAlchemy's SQLite DateTime stores it: ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    return dt.replace(tzinfo=None).isoformat(" ", "microseconds")


def stored_time(value: datetime, sqlite: bool) -> Any:
    """A timestamp as a query parameter for the events table."""
    return sqlite_timestamp(utc(value)) if sqlite else utc(value)


def load_json(value: Any) -> Any:
    """A JSON column's value: text decoded, drivers' objects as given."""
    return json.loads(value) if isinstance(value, str | bytes) else value


_raw_decode = json.JSONDecoder().raw_decode


def decode_json(text: str) -> Any:
    """``json.loads`` of text this module encoded (valid and whole: no trailing-data check)."""
    return _raw_decode(text)[0]


def _json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value
    try:
        return decode_json(value) if isinstance(value, str) else load_json(value)
    except ValueError:  # not the store's own text (leading space...): the strict decoder
        return load_json(value)


def decode_rows(rows: Sequence[Sequence[Any]], upcast: bool = True) -> list[RecordedEvent]:
    """Rows of ``COLUMNS`` as events, lifted to the current schema versions unless ``upcast``
    is false (``verify`` and ``export`` need the stored form)."""
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


#: ``canonical_json``, fast: the text hashed and stored for data and meta.
encode = _make_encoder()


def roundtrip(content: dict[str, Any]) -> dict[str, Any]:
    """Content as it reads back from the database (JSON round trip), for comparison."""
    result: dict[str, Any] = json.loads(canonical_json(content))
    return result
