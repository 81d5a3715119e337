"""A counting projection and the child-process functions of the follow tests (importable by
name, as spawn requires)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from tracker.app import connect
from tracker.events import NewEvent, RecordedEvent
from tracker.follow import follow
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


def run_follower(url: str, stop: Any, poll_interval: float, report: Any) -> None:
    """Follow until the cross-process ``stop`` event is set. Puts "ready" on ``report`` when
    about to follow, then the number of events this process applied."""
    tracker = connect(url)
    local_stop = threading.Event()
    applied = 0

    def relay() -> None:
        stop.wait()
        local_stop.set()

    def on_batch(count: int, _checkpoints: Mapping[str, int]) -> None:
        nonlocal applied
        applied += count

    threading.Thread(target=relay, daemon=True).start()
    try:
        report.put("ready")
        follow(projector(tracker.engine), tracker.engine, stop=local_stop,
               poll_interval=poll_interval, on_batch=on_batch)
    finally:
        tracker.close()
    report.put(applied)


def append_events(url: str, batches: int, batch_size: int, pause_s: float) -> int:
    """Append ``batches`` small batches with a pause between them, so followers interleave."""
    tracker = connect(url)
    try:
        for b in range(batches):
            tracker.store.append(f"stream-{b % 3}",
                                 [event(b * batch_size + i) for i in range(batch_size)])
            time.sleep(pause_s)
    finally:
        tracker.close()
    return batches * batch_size
