"""Application functions for the dossier: seeding, status, timeline, diff, replay, retraction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker import catalogue
from tracker.app import Tracker
from tracker.catalogue import RETRACTED
from tracker.dates import iso
from tracker.db import write_connection
from tracker.errors import UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.feeds import default_subscription_events
from tracker.projections import PROJECTIONS
from tracker.projections.fold import fold_all, wanted_types
from tracker.projector import Projector, load_docs
from tracker.reports import diff_report, status_report, timeline_report
from tracker.seeds import SeedError, SeedPath, load_seed_file, packaged_seed_files
from tracker.when import When


@dataclass(frozen=True, slots=True)
class SeedResult:
    files: int
    appended: int
    already: int


def load_seeds(tracker: Tracker, paths: Sequence[str | Path] | None = None) -> SeedResult:
    """Append the seed dossiers (and, with the packaged seeds, the default feed list).

    Each file is one transaction; event ids are deterministic, so re-running appends nothing.
    """
    files: list[SeedPath] = list(paths) if paths else list(packaged_seed_files())
    if paths:
        for path in paths:
            if not Path(path).is_file():
                raise UsageError(f"no seed file at {path}")
    batches: list[list[tuple[str, NewEvent]]] = []
    for file in files:
        try:
            batches.append(load_seed_file(file))
        except SeedError as exc:
            raise UsageError(str(exc)) from None
    if not paths:
        batches.append(default_subscription_events())
    appended = already = 0
    for batch in batches:
        new, old = _append_batch(tracker, batch)
        appended += new
        already += old
    return SeedResult(len(files), appended, already)


def _append_batch(tracker: Tracker, batch: Iterable[tuple[str, NewEvent]]) -> tuple[int, int]:
    by_stream: dict[str, list[NewEvent]] = defaultdict(list)
    for stream_id, event in batch:
        by_stream[stream_id].append(event)
    new = old = 0
    with write_connection(tracker.engine) as conn, conn.begin():
        for stream_id, events in by_stream.items():
            before = tracker.store.head(conn=conn)
            recorded = tracker.store.append_in(conn, stream_id, events)
            fresh = sum(1 for e in recorded if e.position > before)
            new += fresh
            old += len(recorded) - fresh
    return new, old


# -- projections and reports ------------------------------------------------------------------

STATUS_PROJECTIONS = ("policy_state", "actors")


def projector(tracker: Tracker) -> Projector:
    return Projector(tracker.store, PROJECTIONS, tracker.clock)


def status(tracker: Tracker, *, as_of: When | None = None,
           world_as_of: When | None = None) -> dict[str, Any]:
    """The state of every tracked policy: from the projection tables when asked about now,
    by replaying the log in memory when asked about a past date (on either time axis)."""
    if as_of is None and world_as_of is None:
        positions = projector(tracker).catch_up(STATUS_PROJECTIONS)
        policy_docs = [doc for _key, doc in load_docs(tracker.engine, "policy_state")]
        actor_docs = dict(load_docs(tracker.engine, "actors", order_by_sort=False))
        return status_report(policy_docs, actor_docs, position=max(positions.values()),
                             as_of=None, world_as_of=None)
    policy, actors = PROJECTIONS["policy_state"], PROJECTIONS["actors"]
    types = sorted(wanted_types(policy) | wanted_types(actors))
    known = list(tracker.store.read(
        types=types, recorded_until=as_of.recorded_until if as_of else None))
    in_world = known if world_as_of is None else [
        e for e in known if e.type == RETRACTED or e.occurred_until <= world_as_of.before]
    policy_docs = [doc for _key, doc in sorted(fold_all(policy, in_world).items())]
    actor_docs = fold_all(actors, known)
    position = in_world[-1].position if in_world else 0
    return status_report(policy_docs, actor_docs, position=position,
                         as_of=iso(as_of.recorded_until) if as_of else None,
                         world_as_of=iso(world_as_of.before) if world_as_of else None)


def timeline(tracker: Tracker, *, since: When | None = None,
             until: When | None = None) -> dict[str, Any]:
    projector(tracker).catch_up(["timeline"])
    entries = [doc for _key, doc in load_docs(tracker.engine, "timeline")]
    report = timeline_report(entries, iso(since.start) if since else None,
                             iso(until.before) if until else None)
    report["since"], report["until"] = (since.text if since else None,
                                        until.text if until else None)
    return report


def diff(tracker: Tracker, *, since: When, until: When | None = None) -> dict[str, Any]:
    """What the log learnt between two recorded times: facts added, changed, retracted."""
    before = status(tracker, as_of=since)
    after = status(tracker, as_of=until) if until else status(tracker)
    return diff_report(before, after)


def replay(tracker: Tracker, names: Sequence[str] | None = None,
           progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Drop the named projections (all by default) and rebuild them from the log."""
    _check_projections(names)
    return projector(tracker).rebuild(list(names) if names else None, progress=progress)


def _check_projections(names: Sequence[str] | None) -> None:
    unknown = [n for n in names or () if n not in PROJECTIONS]
    if unknown:
        raise UsageError(f"unknown projection {unknown[0]!r}: one of {', '.join(PROJECTIONS)}")


def replay_size(tracker: Tracker, names: Sequence[str] | None = None) -> int:
    """How many events a full rebuild of ``names`` will fold (for a progress bar)."""
    _check_projections(names)
    return sum(tracker.store.count(types=wanted_types(PROJECTIONS[name]))
               for name in names or PROJECTIONS)


# -- corrections --------------------------------------------------------------------------------

CORRECTIONS_STREAM = "corrections"


def _target(tracker: Tracker, position: int) -> RecordedEvent:
    target = tracker.store.get(position)
    if target is None:
        raise UsageError(f"no event at position {position} (the log ends at "
                         f"{tracker.store.head()})")
    if target.type == RETRACTED:
        raise UsageError(f"position {position} is itself a retraction; retractions stand")
    return target


def retract(tracker: Tracker, position: int, reason: str, actor: str = "cli") -> RecordedEvent:
    """Withdraw the event at ``position``: a new event, the original stays in the log."""
    if not reason.strip():
        raise UsageError("a retraction needs a --reason")
    target = _target(tracker, position)
    event = _retraction(tracker, target, reason, actor)
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        existing = tracker.store.by_ids([event.event_id], conn=conn).get(event.event_id)
        if existing is not None:
            raise UsageError(f"position {position} was already retracted "
                             f"(at {existing.position})")
        [recorded] = tracker.store.append_in(conn, CORRECTIONS_STREAM, [event])
    return recorded


def _retraction(tracker: Tracker, target: RecordedEvent, reason: str, actor: str) -> NewEvent:
    return NewEvent(RETRACTED, {"target_position": target.position,
                                "target_event_id": target.event_id, "reason": reason.strip()},
                    tracker.now(), meta={"actor": actor, "causation_id": target.event_id},
                    event_id=deterministic_id("retract", target.event_id))


def correct(tracker: Tracker, position: int, changes: dict[str, Any], reason: str,
            actor: str = "cli") -> list[RecordedEvent]:
    """Replace the event at ``position`` by a corrected copy: one transaction appends the
    retraction and the replacement (whose ``meta.corrects`` names the original)."""
    if not changes:
        raise UsageError("a correction needs at least one --set FIELD=VALUE")
    if not reason.strip():
        raise UsageError("a correction needs a --reason")
    target = _target(tracker, position)
    fields = catalogue.spec(target.type).fields if target.type in catalogue.CATALOGUE else {}
    unknown = [k for k in changes if fields and k not in fields]
    if unknown:
        raise UsageError(f"{target.type} has no field {unknown[0]!r} "
                         f"(fields: {', '.join(fields)})")
    data = {**target.data, **changes}
    meta = {**target.meta, "corrects": position, "correction_reason": reason.strip(),
            "actor": actor}
    replacement = NewEvent(target.type, data, target.occurred_at, target.occurred_precision,
                           meta, schema_version=target.schema_version)
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        retraction = _retraction(tracker, target, reason, actor)
        existing = tracker.store.by_ids([retraction.event_id], conn=conn).get(
            retraction.event_id)
        if existing is not None:
            raise UsageError(f"position {position} was already retracted "
                             f"(at {existing.position}); correct the replacement instead")
        out = tracker.store.append_in(conn, CORRECTIONS_STREAM, [retraction])
        out += tracker.store.append_in(conn, target.stream_id, [replacement])
    return out
