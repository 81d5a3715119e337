"""The application layer: opens the database, and offers one function per user action.

The CLI calls these; they call the store, the projections and the ingest code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker import migrate
from tracker.config import sqlite_file
from tracker.db import make_engine, masked
from tracker.errors import TrackerError
from tracker.events import RecordedEvent
from tracker.store import EventStore, VerifyResult
from tracker.store.eventstore import Clock, system_clock


@dataclass
class Tracker:
    url: str
    engine: Engine
    store: EventStore
    clock: Clock = field(default=system_clock)

    def now(self) -> datetime:
        return self.clock()

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str, clock: Clock = system_clock) -> Tracker:
    """An engine and store for ``url``, without touching the schema."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(url)
    except (ValueError, sa.exc.ArgumentError, ImportError) as exc:
        raise TrackerError(f"cannot use database {masked(url)}: {exc}") from None
    return Tracker(url=url, engine=engine, store=EventStore(engine, clock), clock=clock)


def open_tracker(url: str, clock: Clock = system_clock,
                 on_new_database: Callable[[Tracker], None] | None = None) -> Tracker:
    """Open a ready database: a new, empty one is migrated (and ``on_new_database`` runs, e.g.
    to load the seeds); one behind the newest revision is refused with the command that fixes it.
    """
    tracker = connect(url, clock)
    if migrate.current_revision(tracker.engine) is None and _is_empty(tracker.engine):
        migrate.upgrade(tracker.engine)
        if on_new_database is not None:
            on_new_database(tracker)
    migrate.require_current(tracker.engine)
    return tracker


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


def verify(tracker: Tracker, progress: Callable[[int], None] | None = None) -> VerifyResult:
    return tracker.store.verify(progress)
