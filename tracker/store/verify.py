"""Integrity of the log: its head, and the hash chain recomputed over it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from tracker.events import GENESIS_HASH, RecordedEvent, recorded_hash


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_position: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of the log (position 0 and the genesis hash when it is empty).

    Kept elsewhere, it is what a later ``verify --against`` checks the log still holds."""

    position: int
    hash: str
    recorded_at: datetime | None = None


def verify_chain(events: Iterable[RecordedEvent],
                 progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Recompute the hash chain over ``events`` (the whole log, as stored, in position order);
    report the first position that breaks."""
    prev_hash = GENESIS_HASH
    expected_position = 1
    checked = 0
    for event in events:
        if event.position != expected_position:
            return VerifyResult(False, checked, expected_position,
                                f"position {expected_position} is missing")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, event.position,
                                "prev_hash does not match the previous event's hash")
        if recorded_hash(event) != event.hash:
            return VerifyResult(False, checked, event.position,
                                "content does not match its hash")
        prev_hash = event.hash
        expected_position += 1
        checked += 1
        if progress is not None:
            progress(1)
    return VerifyResult(True, checked)


__all__ = ["Head", "VerifyResult", "verify_chain"]
