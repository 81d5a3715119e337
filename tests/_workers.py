"""Functions run in child processes by the concurrency tests (importable by name for spawn)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tracker.app import connect
from tracker.errors import ConcurrencyError
from tracker.events import NewEvent


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
                    [event] = tracker.store.append("shared", [_event(worker, n)], version)
                    won.append(event.stream_version)
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
