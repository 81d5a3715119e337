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
from tracker.events import RecordedEvent, canonical_json, recorded_event
from tracker.json_values import holds_only

#: The events table's columns, in the order every query selects and inserts them.
COLUMNS: tuple[str, ...] = (
    "position", "event_id", "stream_id", "stream_version", "type", "schema_version",
    "occurred_at", "occurred_precision", "recorded_at", "data", "meta", "prev_hash", "hash",
)
COLUMN_LIST = ", ".join(COLUMNS)
#: The same, selected to be read: PostgreSQL hands data and meta back as their stored text, so
#: both backends decode them alike (and meta only when read), not through psycopg's loader.
SELECT_LIST_PG = ", ".join(f"{c}::text" if c in ("data", "meta") else c for c in COLUMNS)


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
    is false (``verify`` and ``export`` need the stored form).

    Data is decoded now (``decode_object``); meta stored as text is left to the event, which
    decodes it when first read (most folds never do). Each distinct timestamp is parsed once
    per call (a batch's events share their ``recorded_at``).
    """
    stamps: dict[Any, datetime] = {}
    get_stamp = stamps.get
    lift, current = catalogue.upcast, catalogue.CATALOGUE
    make, decode = recorded_event, decode_object
    out: list[RecordedEvent] = []
    add = out.append
    for (position, event_id, stream_id, stream_version, type_, version, occurred_at,
         precision, recorded_at, data, meta, prev_hash, hash_) in rows:
        occurred = get_stamp(occurred_at)
        if occurred is None:
            occurred = stamps[occurred_at] = _stamp(occurred_at)
        recorded = get_stamp(recorded_at)
        if recorded is None:
            recorded = stamps[recorded_at] = _stamp(recorded_at)
        data = decode(data) if type(data) is str else _json(data)
        if type(meta) is not str:  # text is decoded by the event when read
            meta = _json(meta)
        if upcast:
            spec = current.get(type_)
            if spec is not None and version < spec.version:
                version, data = lift(type_, version, data)
        add(make(position, event_id, stream_id, stream_version, type_, version, occurred,
                 precision, recorded, data, meta, prev_hash, hash_))
    return out


def _stamp(value: Any) -> datetime:
    """A stored timestamp as an aware UTC datetime: SQLite's text, PostgreSQL's datetime."""
    if isinstance(value, str):
        if len(value) == 26:  # SQLite's "YYYY-MM-DD HH:MM:SS.ffffff", UTC: parsed as such
            return datetime.fromisoformat(f"{value}+00:00")  # (a tenth of .replace(tzinfo=))
        return utc(datetime.fromisoformat(value))
    return utc(value)


#: orjson reads an integer outside [-2**63, 2**64) as a float, whose magnitude is then at least:
_INTEGER_AS_FLOAT = float(2**63)


def _not_an_integer(value: float) -> bool:
    """A float orjson read as ``json.loads`` reads it: it reads floats exactly as the stdlib
    does, so only one of 2**63 or more could be an integer it turned into a float."""
    return -_INTEGER_AS_FLOAT < value < _INTEGER_AS_FLOAT


def _make_object_decoder() -> Callable[[str], Any]:
    """``json.loads`` of stored text, through orjson (twice as fast) when its result is
    certainly the same (``holds_only`` with ``_not_an_integer``): a result holding a float
    that could be an integer beyond 64 bits is decoded again by the stdlib, as is text orjson
    refuses (lone surrogates, NaN)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - a declared dependency
        return _json
    loads = orjson.loads

    def decode(text: str) -> Any:
        try:
            value = loads(text)
        except ValueError:
            return _json(text)
        return value if holds_only(value, _not_an_integer) else _json(text)

    return decode


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


#: The stdlib encoder: ``canonical_json``, configured once. The hash chain's reference.
encode_stdlib = _make_encoder()

#: Exactly these types are written by orjson byte for byte as ``canonical_json`` writes them.
def plain(value: Any) -> bool:
    """Whether ``value`` holds only dicts, lists, tuples, str, int, bool and None
    (``json_values.holds_only`` with no floats).

    Everything else orjson could write differently from ``canonical_json`` (floats: ``1e-07``
    against ``1e-7``, NaN as null) or accept where it raises (UUIDs, enums, dates), so any of
    it sends the value to the stdlib encoder. Keys are left to orjson, which refuses non-str
    ones (``canonical_json`` would write ``{1: x}`` as ``{"1": x}``), as it refuses integers
    beyond 64 bits and nesting past 254 levels: each such refusal falls back too.
    """
    return holds_only(value)


def _make_fast_encoder() -> Callable[[Any], str]:
    """``encode_stdlib``, through orjson (ten times faster) where its bytes are certainly the
    same: a dict of plain values (``plain``) that orjson accepts. Anything else, and any
    value orjson refuses, goes to the stdlib encoder, so the text hashed never depends on which
    encoder ran. Without orjson, or if its output ever differs on the check below, it is the
    stdlib encoder alone.
    """
    try:
        import orjson
    except ImportError:  # pragma: no cover - a declared dependency
        return encode_stdlib
    dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS

    def encode(value: Any) -> str:
        if type(value) is dict:
            try:
                if holds_only(value):
                    # decoded at once: bytes kept by the thousand cost page faults in malloc
                    return dumps(value, option=option).decode()
            except (TypeError, RecursionError):  # non-str keys, big integers, deep nesting
                pass
        return encode_stdlib(value)

    sample = {"b": [1, -2**63, 2**64 - 1, None, True, False, ("t",)], "a": {"z": {}, "y": []},
              "é\u2028\U0001f600": "\x00\x1f\x7f\"\\/\b\f\n\r\t\u00e9\ud7ff\ue000\U0010ffff",
              "\ue000": 1, "\U00010000": 2, "": 3}
    return encode if encode(sample) == canonical_json(sample) else encode_stdlib


#: ``canonical_json``, fast: the text hashed and stored for data and meta.
encode = _make_fast_encoder()

#: ``json.loads`` of the store's own JSON text, fast.
decode_object = _make_object_decoder()


def roundtrip(content: dict[str, Any]) -> dict[str, Any]:
    """Content as it reads back from the database (JSON round trip), for comparison."""
    result: dict[str, Any] = json.loads(canonical_json(content))
    return result
