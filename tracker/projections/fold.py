"""Folding events into keyed documents: the loop shared by the persistent projector and by
in-memory replays as of a past date. Pure: documents come in and go out through callables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping

from tracker.catalogue import RETRACTED
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection


def wanted_types(projection: Projection) -> frozenset[str]:
    return projection.types | {RETRACTED}


def finish(projection: Projection, doc: Doc | None) -> Doc | None:
    """The document to store or show for one ``apply`` left deferred (see ``apply``)."""
    return projection.finish(doc) if doc is not None else None


def apply(projection: Projection, docs: MutableMapping[str, Doc | None], event: RecordedEvent,
          load: Callable[[str], Doc | None],
          target_of: Callable[[int], RecordedEvent | None]) -> set[str]:
    """Fold ``event`` into the documents it touches; returns the keys changed.

    ``docs`` caches documents (None: deleted); ``load`` fetches one not yet cached;
    ``target_of`` finds the event a retraction names. Folds with ``evolve_deferred``: pass
    the changed documents to ``finish`` before storing or showing them.
    """
    evolve = projection.evolve_deferred
    if event.type == RETRACTED:
        target = target_of(int(event.data["target_position"]))
        if target is None or target.type not in projection.types:
            return set()
        keys: Iterable[str] = projection.keys(target)
    elif event.type in projection.types:
        keys = projection.keys(event)
    else:
        return set()
    changed: set[str] = set()
    for key in keys:
        if key not in docs:
            docs[key] = load(key)
        before = docs[key]
        after = evolve(before, event)
        if after is not before:
            docs[key] = after
            changed.add(key)
    return changed


def apply_batch(projection: Projection, docs: MutableMapping[str, Doc | None],
                events: Iterable[RecordedEvent], load: Callable[[str], Doc | None],
                target_of: Callable[[int], RecordedEvent | None]) -> dict[str, int]:
    """``apply`` each of ``events`` in order; returns the keys changed, each with the position
    of the last event that changed it. The same fold as calling ``apply`` per event, without
    its per-event set-up (the persistent projector's batches)."""
    evolve, keys_of, types = projection.evolve_deferred, projection.keys, projection.types
    changed: dict[str, int] = {}
    for event in events:
        type_ = event.type
        if type_ == RETRACTED:
            target = target_of(int(event.data["target_position"]))
            if target is None or target.type not in types:
                continue
            keys: Iterable[str] = keys_of(target)
        elif type_ in types:
            keys = keys_of(event)
        else:
            continue
        for key in keys:
            if key in docs:
                before = docs[key]
            else:
                before = docs[key] = load(key)
            after = evolve(before, event)
            if after is not before:
                docs[key] = after
                changed[key] = event.position
    return changed


def fold_all(projection: Projection, events: Iterable[RecordedEvent]) -> dict[str, Doc]:
    """Replay ``events`` into a fresh in-memory state (for as-of views); retraction targets
    outside ``events`` are ignored, as they were not part of that view."""
    docs: dict[str, Doc | None] = {}
    seen: dict[int, RecordedEvent] = {}
    for event in events:
        if event.type in projection.types:
            seen[event.position] = event
        apply(projection, docs, event, lambda _key: None, seen.get)
    out: dict[str, Doc] = {}
    for key, doc in docs.items():
        done = finish(projection, doc)
        if done is not None:
            out[key] = done
    return out
