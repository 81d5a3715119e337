"""Moving a whole event log between databases (SQLite to PostgreSQL and back) as JSON lines.

Export format (UTF-8 text, one JSON object per line, keys sorted, ASCII-escaped):

* line 1, the header: ``{"tracker_export": 1, "events": N, "head_position": P,
  "head_hash": H}``; ``H`` is the hash of the event at ``P`` (null for an empty log). The
  importer uses it to notice a truncated file.
* then one line per event, in position order, with every column as stored:
  ``position, event_id, stream_id, stream_version, type, schema_version`` (the stored version,
  not upcast), ``occurred_at, occurred_precision, recorded_at`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``),
  ``data, meta, prev_hash, hash``.

Import copies rows verbatim rather than re-appending them, because re-appending would assign new
recorded times and hashes; the chain is checked line by line instead. The whole import is one
transaction, so a file that was edited, truncated or reordered anywhere, or an import killed
half way, leaves the target exactly as it was. Lines longer than ``MAX_LINE`` characters and
JSON nested deeper than ``MAX_DEPTH`` are refused before they are parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Final, TextIO, TypeGuard

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.dates import PRECISIONS, UNDATED_AT, iso
from tracker.db import write_connection
from tracker.errors import TrackerError
from tracker.events import GENESIS_HASH, RecordedEvent, recorded_hash
from tracker.store import EventStore

FORMAT_VERSION: Final = 1
HEADER_KEY: Final = "tracker_export"

#: Longest line read (an event's line; the export is ASCII, so characters are bytes): 1 MiB.
MAX_LINE: Final = 1 << 20
#: Deepest JSON nesting read (the object of a line counts as one level).
MAX_DEPTH: Final = 64

_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
#: A JSON string, escapes and all: what may hold brackets that do not nest anything.
_JSON_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS: Final = re.compile(r"[\[\]{}]")
_FIELDS: Final[dict[str, type | tuple[type, ...]]] = {
    "position": int, "event_id": str, "stream_id": str, "stream_version": int, "type": str,
    "schema_version": int, "occurred_at": str, "occurred_precision": str, "recorded_at": str,
    "data": dict, "meta": dict, "prev_hash": str, "hash": str,
}

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    skipped: int


def _dumps(value: Any) -> str:
    """One line of JSON: ASCII-escaped so no character in it can be taken for a line break."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def export_events(store: EventStore, out: TextIO, progress: Progress | None = None) -> int:
    """Write the whole log to ``out`` as JSON lines; returns the number of events written.

    The head is fixed before reading, so events appended meanwhile are left for a later export
    and the header stays true.
    """
    with store.engine.connect() as conn:
        head = store.tip(conn=conn)
        head_position = head.position
        count = store.count(until_position=head_position, conn=conn)
    out.write(_dumps({HEADER_KEY: FORMAT_VERSION, "events": count,
                      "head_position": head_position,
                      "head_hash": head.hash if head_position else None}) + "\n")
    written = 0
    if head_position:
        for event in store.read(upcast=False, until_position=head_position, page_size=5000):
            out.write(_dumps(event.as_dict()) + "\n")
            written += 1
            if progress is not None:
                progress(1)
    if written != count:
        raise TrackerError(f"export read {written} events but the log counted {count}")
    return written


@dataclass(frozen=True, slots=True)
class _Header:
    events: int
    head_position: int
    head_hash: str | None


def _parse_time(value: str, line_no: int, name: str) -> datetime:
    try:
        parsed = datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise TrackerError(f"line {line_no}: {name} {value!r} is not a UTC timestamp of the form "
                           "YYYY-MM-DDTHH:MM:SS.ffffffZ") from None
    return parsed


def _parse_json(text: str, line_no: int) -> Any:
    _check_depth(text, line_no)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TrackerError(f"line {line_no}: not JSON ({exc})") from None
    except RecursionError:
        raise TrackerError(f"line {line_no}: JSON nested deeper than {MAX_DEPTH} levels") \
            from None


def _check_depth(text: str, line_no: int) -> None:
    """Refuse deep nesting before parsing it (the parser would recurse once per level)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise TrackerError(f"line {line_no}: JSON nested deeper than {MAX_DEPTH} levels")


def _parse_header(text: str, line_no: int) -> _Header:
    value = _parse_json(text, line_no)
    if not isinstance(value, dict) or HEADER_KEY not in value:
        raise TrackerError(f"line {line_no}: not a tracker export (the first line must be the "
                           f'header {{"{HEADER_KEY}": {FORMAT_VERSION}, ...}})')
    if value[HEADER_KEY] != FORMAT_VERSION:
        raise TrackerError(f"line {line_no}: export format {value[HEADER_KEY]!r} is not "
                           f"supported (this tracker reads format {FORMAT_VERSION})")
    count, position, digest = value.get("events"), value.get("head_position"), \
        value.get("head_hash")
    if not _is_int(count) or not _is_int(position) or not (
            digest is None or isinstance(digest, str)):
        raise TrackerError(f"line {line_no}: header lacks events, head_position or head_hash")
    return _Header(count, position, digest)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_event(text: str, line_no: int) -> RecordedEvent:
    value = _parse_json(text, line_no)
    if not isinstance(value, dict):
        raise TrackerError(f"line {line_no}: expected a JSON object")
    missing = [name for name in _FIELDS if name not in value]
    if missing:
        raise TrackerError(f"line {line_no}: missing field(s): {', '.join(missing)}")
    extra = sorted(set(value) - set(_FIELDS))
    if extra:
        raise TrackerError(f"line {line_no}: unexpected field(s): {', '.join(extra)}")
    for name, kind in _FIELDS.items():
        if not isinstance(value[name], kind) or (kind is int and isinstance(value[name], bool)):
            raise TrackerError(f"line {line_no}: {name} has the wrong type")
    if value["occurred_precision"] not in PRECISIONS:
        raise TrackerError(f"line {line_no}: unknown occurred_precision "
                           f"{value['occurred_precision']!r}")
    if value["occurred_precision"] == "undated" and value["occurred_at"] != iso(UNDATED_AT):
        raise TrackerError(f"line {line_no}: an undated event's occurred_at must be "
                           f"{iso(UNDATED_AT)}")
    return RecordedEvent(
        position=value["position"], event_id=value["event_id"], stream_id=value["stream_id"],
        stream_version=value["stream_version"], type=value["type"],
        schema_version=value["schema_version"],
        occurred_at=_parse_time(value["occurred_at"], line_no, "occurred_at"),
        occurred_precision=value["occurred_precision"],
        recorded_at=_parse_time(value["recorded_at"], line_no, "recorded_at"),
        data=value["data"], meta=value["meta"], prev_hash=value["prev_hash"], hash=value["hash"])


def _bounded(lines: Iterable[str] | IO[Any]) -> Iterator[str | bytes]:
    """The lines of ``lines``; from a file, read at most ``MAX_LINE`` + 1 characters at a time,
    so a line with no end is refused without being held in memory."""
    readline = getattr(lines, "readline", None)
    if readline is None:
        yield from lines
        return
    while line := readline(MAX_LINE + 1):
        yield line


def _numbered(lines: Iterable[str] | IO[Any]) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines; a binary file's are decoded one by one, so a byte that is not
    UTF-8 is reported on its own line (a text file's decoder reads ahead)."""
    line_no = 0
    source = _bounded(lines)
    while True:
        line_no += 1
        try:
            raw = next(source)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise TrackerError(f"line {line_no} or soon after: not UTF-8 text") from None
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TrackerError(f"line {line_no}: not UTF-8 text") from None
        else:
            line = raw
        if len(line) - line.endswith("\n") > MAX_LINE:
            raise TrackerError(f"line {line_no}: longer than {MAX_LINE} characters (1 MiB); "
                               "not a line of a tracker export")
        if line.strip():
            yield line_no, line


class _Importer:
    """Checks the file's own chain while reading, and the target's log batch by batch, all in
    the caller's one transaction (under the append lock)."""

    def __init__(self, store: EventStore, conn: sa.Connection,
                 progress: Progress | None) -> None:
        self.store = store
        self.conn = conn
        self.progress = progress
        self.imported = 0
        self.skipped = 0
        self.previous: RecordedEvent | None = None

    def check_chain(self, event: RecordedEvent, line_no: int) -> None:
        previous = self.previous
        if previous is not None and event.position != previous.position + 1:
            raise TrackerError(f"line {line_no}: position {event.position} does not follow "
                               f"{previous.position}")
        if previous is not None and event.prev_hash != previous.hash:
            raise TrackerError(f"line {line_no}: prev_hash does not match the previous "
                               "event's hash")
        if previous is None and event.position == 1 and event.prev_hash != GENESIS_HASH:
            raise TrackerError(f"line {line_no}: the first event's prev_hash is not the "
                               "genesis hash")
        if event.position < 1:
            raise TrackerError(f"line {line_no}: position {event.position} is not positive")
        if recorded_hash(event) != event.hash:
            raise TrackerError(f"line {line_no}: content does not match its hash (position "
                               f"{event.position})")
        self.previous = event

    def write(self, batch: list[tuple[int, RecordedEvent]]) -> None:
        """Skip what the target already holds, refuse what differs, insert the rest."""
        if not batch:
            return
        conn = self.conn
        first, last = batch[0][1].position, batch[-1][1].position
        head = self.store.tip(conn=conn)
        head_position = head.position
        stored = self._stored(conn, first, min(last, head_position))
        fresh: list[tuple[int, RecordedEvent]] = []
        for line_no, event in batch:
            if event.position <= head_position:
                mine = stored.get(event.position)
                if mine is None or mine.as_dict() != event.as_dict():
                    raise TrackerError(
                        f"line {line_no}: the target holds a different event at position "
                        f"{event.position}; refusing to import into a diverged log")
                continue
            fresh.append((line_no, event))
        if fresh:
            line_no, event = fresh[0]
            if event.position != head_position + 1:
                raise TrackerError(
                    f"line {line_no}: position {event.position} does not continue the "
                    f"target's log (its head is {head_position})")
            if event.prev_hash != head.hash:
                raise TrackerError(
                    f"line {line_no}: prev_hash does not match the target's event at "
                    f"position {head_position}")
            try:
                self.store.insert_verbatim(conn, [e for _, e in fresh])
            except sa.exc.IntegrityError as exc:
                raise TrackerError(
                    f"lines {fresh[0][0]}-{fresh[-1][0]}: the target refused the rows: "
                    f"{str(exc.orig).splitlines()[0]}") from None
        self.imported += len(fresh)
        self.skipped += len(batch) - len(fresh)
        if self.progress is not None:
            self.progress(len(batch))

    def _stored(self, conn: sa.Connection, low: int, high: int) -> Mapping[int, RecordedEvent]:
        if high < low:
            return {}
        found = self.store.page(after=low - 1, until_position=high,
                                        limit=high - low + 1, upcast=False, conn=conn)
        return {event.position: event for event in found}


def import_events(tracker: Tracker, lines: Iterable[str] | IO[Any],
                  progress: Progress | None = None, batch_size: int = 1000) -> ImportResult:
    """Copy an export (lines, or a text or binary file) into ``tracker``'s log, verbatim, all or
    nothing.

    The whole import is one transaction holding the append lock (``batch_size`` events are
    checked against the target and inserted at a time): bad input anywhere raises
    ``TrackerError`` naming the line, and it, an interruption or a killed process leave the
    target as it was. Events the target already holds at the same positions are skipped, so
    importing twice changes nothing; a target whose log differs is refused.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    numbered = _numbered(lines)
    first = next(numbered, None)
    if first is None:
        raise TrackerError("line 1: empty input, expected a tracker export")
    header = _parse_header(first[1], first[0])
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        importer = _Importer(tracker.store, conn, progress)
        batch: list[tuple[int, RecordedEvent]] = []
        count = 0
        last_line = first[0]
        for line_no, text in numbered:
            event = _parse_event(text, line_no)
            importer.check_chain(event, line_no)
            batch.append((line_no, event))
            count += 1
            last_line = line_no
            if count > header.events:
                raise TrackerError(f"line {line_no}: the header announced {header.events} events")
            if len(batch) >= batch_size:
                importer.write(batch)
                batch = []
        last = importer.previous
        if count != header.events:
            raise TrackerError(f"line {last_line}: the export ends after {count} of "
                               f"{header.events} events (truncated?)")
        if last is not None and (last.position != header.head_position
                                 or last.hash != header.head_hash):
            raise TrackerError(f"line {last_line}: the last event does not match the header's "
                               "head_position and head_hash")
        importer.write(batch)
    return ImportResult(importer.imported, importer.skipped)


__all__ = ["FORMAT_VERSION", "MAX_DEPTH", "MAX_LINE", "ImportResult", "export_events",
           "import_events"]
