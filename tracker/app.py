"""The application layer: opens the database, and offers one function per user action.

The CLI calls these; they call the store, the projections and the ingest code.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker import migrate, readonly
from tracker.config import sqlite_file
from tracker.dates import iso, utc
from tracker.db import make_engine, masked, write_connection
from tracker.errors import TrackerError, UsageError
from tracker.events import GENESIS_HASH, RecordedEvent
from tracker.projector import checkpoints
from tracker.store import EventStore, Head, VerifyResult
from tracker.store.eventstore import Clock, system_clock
from tracker.store.schema import locks


@dataclass
class Tracker:
    url: str
    engine: Engine
    store: EventStore
    clock: Clock = field(default=system_clock)
    #: An SQLite file this process cannot write: read commands work, nothing is written.
    read_only: bool = False

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str, clock: Clock = system_clock) -> Tracker:
    """An engine and store for ``url``, without touching the schema."""
    path = sqlite_file(url)
    if path is not None and readonly.opens_read_only(url, path):
        engine = readonly.read_only_engine(path)
        return Tracker(url=url, engine=engine, store=EventStore(engine, clock), clock=clock,
                       read_only=True)
    try:
        engine = make_engine(url)
    except (ValueError, sa.exc.ArgumentError, ImportError) as exc:
        raise TrackerError(f"cannot use database {masked(url)}: {exc}") from None
    return Tracker(url=url, engine=engine, store=EventStore(engine, clock), clock=clock)


def open_tracker(url: str, clock: Clock = system_clock,
                 on_new_database: Callable[[Tracker], None] | None = None) -> Tracker:
    """Open a ready database: a new, empty one is migrated (and ``on_new_database`` runs, e.g.
    to load the seeds); one behind the newest revision is refused with the command that fixes it.

    A first use marks itself unfinished in the migration's own transaction and clears the mark
    once ``on_new_database`` has run, so one killed in between is finished by the next open
    (which must therefore be idempotent). A database migrated without it (``db upgrade``, an
    import's target) is left as it is.
    """
    tracker = connect(url, clock)
    current = migrate.current_revision(tracker.engine)  # one query: no Alembic unless migrating
    if current is None and _is_empty(tracker.engine):
        migrate.upgrade(tracker.engine,
                        then=_mark_first_use(clock) if on_new_database is not None else None)
        current = migrate.current_revision(tracker.engine)
    migrate.check_current(current)
    if on_new_database is not None and not tracker.read_only and _first_use_unfinished(tracker):
        on_new_database(tracker)
        with write_connection(tracker.engine) as conn, conn.begin():
            conn.execute(locks.delete().where(locks.c.name == FIRST_USE))
    return tracker


#: The row in ``locks`` a first use holds from its migration until its seeds are stored.
FIRST_USE: Final = "first-use"


def _mark_first_use(clock: Clock) -> Callable[[sa.Connection], None]:
    def mark(conn: sa.Connection) -> None:
        conn.execute(locks.insert().values(  # expired already: whoever opens next finishes it
            name=FIRST_USE, owner=f"{socket.gethostname()}:{os.getpid()}",
            expires_at=utc(clock())))
    return mark


def _first_use_unfinished(tracker: Tracker) -> bool:
    with tracker.engine.connect() as conn:
        return conn.execute(sa.select(locks.c.name).where(locks.c.name == FIRST_USE)).first() \
            is not None


def _is_empty(engine: Engine) -> bool:
    return not sa.inspect(engine).get_table_names()


def db_upgrade(url: str) -> tuple[str | None, str]:
    tracker = connect(url)
    try:
        return migrate.upgrade(tracker.engine)
    finally:
        tracker.close()


def db_current(url: str) -> tuple[str | None, str]:
    tracker = connect(url)
    try:
        return migrate.current_revision(tracker.engine), migrate.head_revision()
    finally:
        tracker.close()


def log_events(tracker: Tracker, *, stream_id: str | None = None, types: list[str] | None = None,
               after: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
    return tracker.store.read(after=after, limit=limit, stream_id=stream_id,
                              types=types or None)


def head(tracker: Tracker) -> Head:
    """The log's last event, to keep or publish elsewhere: a later ``verify --against`` shows
    whether the log still holds it (the chain alone cannot show its end was cut off)."""
    last = tracker.store.last()
    if last is None:
        return Head(0, GENESIS_HASH)
    return Head(last.position, last.hash, last.recorded_at)


#: More than a saved head ever holds; ``verify --against`` reads no further.
SAVED_HEAD_LIMIT: Final = 4096
_TEXT_HEAD: Final = re.compile(r"\bposition (\d{1,18}) hash ([0-9a-f]{64})\b")
_HASH: Final = re.compile(r"[0-9a-f]{64}")


def head_line(saved: Head) -> str:
    """The text form of a head: one line a person can keep, and ``saved_head`` reads back."""
    recorded = iso(saved.recorded_at) if saved.recorded_at is not None else "-"
    return f"position {saved.position} hash {saved.hash} recorded_at {recorded}"


def saved_head(text: str, source: str) -> Head:
    """A head saved from ``tracker head``, in either of its formats."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            raise UsageError(f"{source}: not JSON; expected the output of "
                             "`tracker head --format json`") from None
        position = value.get("position") if isinstance(value, dict) else None
        digest = value.get("hash") if isinstance(value, dict) else None
    else:
        match = _TEXT_HEAD.search(stripped)
        position, digest = (int(match[1]), match[2]) if match else (None, None)
    if not isinstance(position, int) or isinstance(position, bool) or position < 0 \
            or not isinstance(digest, str) or not _HASH.fullmatch(digest):
        raise UsageError(f"{source}: not a saved head; expected the output of `tracker head` "
                         "(position N hash H) or `tracker head --format json`")
    if position == 0 and digest != GENESIS_HASH:
        raise UsageError(f"{source}: a head at position 0 has the genesis hash")
    return Head(position, digest)


def verify(tracker: Tracker, progress: Callable[[int], None] | None = None,
           against: Head | None = None) -> VerifyResult:
    """The hash chain, then what a chain alone cannot show: a log cut short or replaced
    (``against``: a head saved earlier) and projections past the log's end.

    A failure past the chain has no ``first_bad_position``; its ``reason`` is the whole line.
    """
    result = tracker.store.verify(progress)
    if not result.ok:
        return result
    if against is not None:
        problem = _lost_head(tracker.store, against)
        if problem is not None:
            return VerifyResult(False, result.checked, reason=problem)
    positions = checkpoints(tracker.engine)  # read before the end, which only grows
    end = tracker.store.head()
    for name, position in sorted(positions.items()):
        if position > end:
            return VerifyResult(False, result.checked, reason=(
                f"projection {name} is at position {position}, past the end of the log "
                f"({end}): events were removed from the log; rebuild the projections with "
                "`tracker replay`"))
    return result


def _lost_head(store: EventStore, saved: Head) -> str | None:
    found = store.hash_at(saved.position)
    if found is None:
        return (f"the log no longer holds the saved head: position {saved.position} is missing "
                f"(the log ends at {store.head()}), so events were removed")
    if found != saved.hash:
        return (f"the log no longer holds the saved head: the event at position {saved.position} "
                f"has hash {found}, the saved head {saved.hash}, so the log was rewritten")
    return None
