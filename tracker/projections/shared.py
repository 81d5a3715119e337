"""What the projections share: provenance, and a history of assertions that retraction can undo.

A document that must survive retraction keeps a ``History``: for each slot (a fact, a link, a
citation...) the assertions that set it, oldest first, each naming the log position and sources
it rests on. Its visible fields are rebuilt from the last assertion of each slot, so retracting
position P is "drop P's assertions and rebuild", and whatever P had superseded comes back.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from tracker.dates import date_label, iso
from tracker.events import RecordedEvent

History = dict[str, list[dict[str, Any]]]


def citation_of(event: RecordedEvent) -> dict[str, Any]:
    """Where an event's content came from: the seed source, or the story it was found in."""
    source = event.citation
    if source is not None:
        return dict(source)
    story_id = event.data.get("story_id")
    if story_id is not None:
        return {"story_id": story_id, "title": event.data.get("title"),
                "url": event.data.get("url") or event.data.get("link")}
    return {}


def provenance(event: RecordedEvent) -> dict[str, Any]:
    return {"position": event.position, "citation": citation_of(event)}


def retracted_position(event: RecordedEvent) -> int | None:
    target = event.data.get("target_position")
    try:
        return int(target) if target is not None else None
    except (TypeError, ValueError):
        return None


#: How the record knows an event, when that needs saying (kept only when set): the seed's note
#: on its date, that the date is an estimate, that the source does not state it (``False``).
DATING_KEYS = ("occurred_note", "estimated", "stated")


def dating(event: RecordedEvent) -> dict[str, Any]:
    """``DATING_KEYS`` an event's meta sets (a seed entry's ``occurred_note``,
    ``occurred_estimated``, ``stated``); empty for most events."""
    meta = event.meta
    out: dict[str, Any] = {}
    if meta.get("occurred_note"):
        out["occurred_note"] = str(meta["occurred_note"])
    if meta.get("occurred_estimated") is True:
        out["estimated"] = True
    if meta.get("stated") is False:
        out["stated"] = False
    return out


def assertion(event: RecordedEvent, value: Any,
              sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "position": event.position,
        "type": event.type,
        "occurred_at": date_label(event.occurred_at, event.occurred_precision),
        "precision": event.occurred_precision,
        "occurred_start": iso(event.occurred_at),
        "value": value,
        "sources": sources if sources is not None else [provenance(event)],
        **dating(event),
    }


def without_position(history: History, position: int) -> History:
    """A copy of ``history`` with everything position ``position`` set taken out."""
    out: History = {}
    for slot, entries in history.items():
        kept = []
        for entry in entries:
            if entry["position"] == position:
                continue
            entry = copy.deepcopy(entry)
            entry["sources"] = [s for s in entry["sources"] if s["position"] != position]
            kept.append(entry)
        if kept:
            out[slot] = kept
    return out


def current(history: History, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """Live slots under ``prefix``, in the order they first appeared."""
    found = [(slot, entries) for slot, entries in history.items()
             if slot.startswith(prefix) and entries]
    found.sort(key=lambda item: item[1][0]["position"])
    return [(slot, entries[-1]) for slot, entries in found]


def item(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A slot's current value flattened, with when it happened and where it came from."""
    value = entry["value"]
    out = dict(value) if isinstance(value, Mapping) else {"value": value}
    out.update(occurred_at=entry["occurred_at"], precision=entry["precision"],
               occurred_start=entry["occurred_start"], position=entry["position"],
               sources=entry["sources"])
    out.update((k, entry[k]) for k in DATING_KEYS if k in entry)
    return out


def dated(entry: Mapping[str, Any]) -> dict[str, Any]:
    """When an assertion happened and how that is known (its ``DATING_KEYS`` that are set)."""
    out = {"occurred_at": entry["occurred_at"], "precision": entry["precision"]}
    out.update((k, entry[k]) for k in DATING_KEYS if k in entry)
    return out


@functools.cache
def _starting(prefix: str) -> Callable[[str], object]:
    return re.compile(re.escape(prefix)).match


def push(history: History, slot: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` to ``slot`` in a new list (lists may be shared with an earlier doc)."""
    history[slot] = [*history.get(slot, ()), entry]


def prune(history: History, prefix: str, keep: int) -> None:
    """Bound the slots under ``prefix`` to the ``keep`` most recently asserted."""
    found = list(filter(_starting(prefix), history))  # runs once per fold: C, not a loop
    if len(found) <= keep:
        return
    if len(found) == keep + 1:  # the usual case: one slot over
        del history[min(found, key=lambda s: history[s][-1]["position"])]
        return
    slots = sorted(found, key=lambda s: history[s][-1]["position"], reverse=True)
    for slot in slots[keep:]:
        del history[slot]
