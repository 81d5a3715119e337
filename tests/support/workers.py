"""Functions the concurrency tests run in child processes.

The tests start them with the "spawn" start method, which imports a target by its module name
in a fresh interpreter: so they live here, at ``tests.support.workers``, importable wherever
the repository root is on sys.path (pytest puts it there; spawned children inherit it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tests.support.counting import event, projector
from tracker.app import connect
from tracker.errors import ConcurrencyError
from tracker.events import NewEvent
from tracker.follow import follow

# -- the event store (tests/store/test_store.py) --------------------------------------------


def _event(worker: int, n: int) -> NewEvent:
    return NewEvent("test.appended", {"worker": worker, "n": n}, datetime(2025, 1, 1, tzinfo=UTC))


def contend_one_stream(url: str, worker: int, count: int) -> list[int]:
    """Append ``count`` events to one shared stream with optimistic concurrency, retrying on
    conflict; returns the stream versions this worker won."""
    tracker = connect(url)
    won: list[int] = []
    conflicts = 0
    try:
        for n in range(count):
            while True:
                version = tracker.store.stream_version("shared")
                try:
                    [appended] = tracker.store.append("shared", [_event(worker, n)], version)
                    won.append(appended.stream_version)
                    break
                except ConcurrencyError:
                    conflicts += 1
                    if conflicts > 10_000:
                        raise
    finally:
        tracker.close()
    return won


def append_own_stream(url: str, worker: int, batches: int, batch_size: int) -> int:
    tracker = connect(url)
    try:
        for b in range(batches):
            tracker.store.append(f"stream-{worker}",
                                 [_event(worker, b * batch_size + i) for i in range(batch_size)])
    finally:
        tracker.close()
    return batches * batch_size


def poll_reader(url: str, expected_total: int, deadline_s: float) -> list[list[int]]:
    """Poll for new events until ``expected_total`` are seen; returns each poll's positions."""
    tracker = connect(url)
    seen = 0
    last = 0
    polls: list[list[int]] = []
    end = time.monotonic() + deadline_s
    try:
        while seen < expected_total and time.monotonic() < end:
            batch = [e.position for e in tracker.store.read(after=last, page_size=50)]
            if batch:
                polls.append(batch)
                last = batch[-1]
                seen += len(batch)
            else:
                time.sleep(0.005)
    finally:
        tracker.close()
    return polls


# -- following the log (tests/projections/test_follow.py) -----------------------------------


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


# -- ingest (tests/ingest/test_run.py) ------------------------------------------------------


def run_ingest(url: str, start: Any, report: Any) -> None:
    """Put "ready" on ``report``, wait for ``start``, run one ingest pass over every due
    feed and report what it did as (name, status, items, message) per feed, or the
    exception's text."""
    from tracker.app import open_tracker
    from tracker.ingest.run import ingest

    tracker = open_tracker(url)
    try:
        report.put("ready")
        start.wait(30)
        summary = ingest(tracker, timeout=(5, 5))
        report.put([(o.name, o.status, o.items, o.message) for o in summary.outcomes])
    except BaseException as exc:  # the parent must hear about it, not wait for a timeout
        report.put(f"error: {type(exc).__name__}: {exc}")
        raise
    finally:
        tracker.close()
