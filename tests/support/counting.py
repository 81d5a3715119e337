"""A projection that counts what it is given, for the follow tests (in the test process and in
the child processes of :mod:`tests.support.workers`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from tracker.events import NewEvent, RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projector import Projector, load_docs
from tracker.store import EventStore
from tracker.store.eventstore import system_clock

COUNTING = "counting"
EVENT_TYPE = "test.appended"


class CountingProjection(Projection):
    """Counts the events it is given and records their positions, so a test can see an event
    applied twice or not at all."""

    name = COUNTING
    version = 1
    types = frozenset({EVENT_TYPE})

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        return ["count"]

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        before = doc or {"count": 0, "positions": []}
        return {"count": before["count"] + 1, "positions": [*before["positions"], event.position]}

    def sort_key(self, key: str, doc: Doc) -> str:
        return key


def projector(engine: Engine) -> Projector:
    return Projector(EventStore(engine), {COUNTING: CountingProjection()}, system_clock)


def counted(engine: Engine) -> tuple[int, list[int]]:
    """The counting projection's (count, positions) as stored."""
    docs = dict(load_docs(engine, COUNTING))
    doc: dict[str, Any] = docs.get("count") or {"count": 0, "positions": []}
    return int(doc["count"]), [int(p) for p in doc["positions"]]


def event(n: int) -> NewEvent:
    return NewEvent(EVENT_TYPE, {"n": n}, datetime(2025, 1, 1, tzinfo=UTC))
