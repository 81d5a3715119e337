"""Application functions for the dossier: seeding, status, timeline, diff, replay, retraction."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tracker import catalogue
from tracker.app import Tracker
from tracker.catalogue import (
    ACCEPTANCE_POLICY_SET,
    DECISION_TYPES,
    FACT_EXTRACTED,
    ITEM_RECORDED,
    RETRACTED,
    STORY_CORRECTION_TYPES,
    STORY_CORROBORATED,
    STORY_CREATED,
)
from tracker.claim_state import Settled, settle
from tracker.claims import AcceptancePolicy, policy_from_data
from tracker.dates import iso
from tracker.db import masked, write_connection
from tracker.errors import AlreadyError, DuplicateEventError, TrackerError, UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.limits import MAX_POSITION
from tracker.projections import PROJECTIONS, Doc
from tracker.projections.fold import fold_all, wanted_types
from tracker.projector import Projector, load_docs, load_docs_between
from tracker.reports import diff_report, status_report, timeline_bounds, timeline_report
from tracker.seeding import (
    DossierRules,
    SeedError,
    SeedPath,
    acceptance_policy_events,
    default_subscription_events,
    dossier_rules,
    load_seed_file,
    packaged_acceptance_policy,
    packaged_seed_files,
)
from tracker.when import When, parse_when


@dataclass(frozen=True, slots=True)
class SeedResult:
    files: int
    appended: int
    already: int


def load_seeds(tracker: Tracker, paths: Sequence[str | Path] | None = None) -> SeedResult:
    """Append the seed dossiers, each with the relevance rules it names (and, with the
    packaged seeds, the default feed list and acceptance policy).

    One transaction for them all, so seeding cut short leaves the log as it was (a first use
    killed while seeding is redone whole by the next); event ids are deterministic, so
    re-running appends nothing.
    """
    files: list[SeedPath] = list(paths) if paths else list(packaged_seed_files())
    if paths:
        for path in paths:
            try:
                found = Path(path).is_file()
            except OSError as exc:  # e.g. a name too long for the file system
                raise UsageError(f"no seed file at {str(path)[:80]}: {exc.strerror}") from None
            if not found:
                raise UsageError(f"no seed file at {path}")
    batches: list[list[tuple[str, NewEvent]]] = []
    named_rules: list[DossierRules] = []
    for file in files:
        try:
            batches.append(load_seed_file(file))
            named = dossier_rules(file)
        except SeedError as exc:
            raise UsageError(str(exc)) from None
        if named is not None:
            named_rules.append(named)
    if not paths:
        batches.append(default_subscription_events())
        batches.append(acceptance_policy_events())
    from tracker import rules_log  # relevance rules: only seeding needs them here

    batches += [rules_log.seed_events(tracker, named) for named in named_rules]
    appended = already = 0
    with write_connection(tracker.engine) as conn, conn.begin():
        for batch in batches:
            new, old = _append_batch(tracker, conn, batch)
            appended += new
            already += old
    return SeedResult(len(files), appended, already)


def _append_batch(tracker: Tracker, conn: sa.Connection,
                  batch: Iterable[tuple[str, NewEvent]]) -> tuple[int, int]:
    by_stream: dict[str, list[NewEvent]] = defaultdict(list)
    for stream_id, event in batch:
        by_stream[stream_id].append(event)
    new = old = 0
    for stream_id, events in by_stream.items():
        before = tracker.store.head(conn=conn)
        try:
            recorded = tracker.store.append_in(conn, stream_id, events)
        except DuplicateEventError as exc:
            raise UsageError(
                f"this database holds an earlier version of the seed for {stream_id} "
                f"({exc}); seeds are never rewritten in place: load the new seed into a "
                "new database, or amend this one with `tracker correct`") from None
        fresh = sum(1 for e in recorded if e.position > before)
        new += fresh
        old += len(recorded) - fresh
    return new, old


# -- projections and reports ------------------------------------------------------------------

STATUS_PROJECTIONS = ("policy_state", "actors", "publishers")
#: What the record knows now about earlier events: in a world-as-of view these always count
#: (a retraction or an analyst's decision on a claim about May applies to May).
KNOWN_NOW_TYPES = frozenset({RETRACTED, *DECISION_TYPES})
#: How far past a world bound a date from the record can be stored and still have happened by
#: it on the reader's calendar (a day is stored from UTC midnight; zones run to UTC+14).
CALENDAR_SLACK = timedelta(days=1)


def projector(tracker: Tracker) -> Projector:
    return Projector(tracker.store, PROJECTIONS, tracker.clock)


@dataclass(frozen=True, slots=True)
class StateDocs:
    """What a status or a claims list is computed from, now or as of a past date."""

    policies: list[Doc]
    actors: dict[str, Doc]
    tiers: dict[str, str]
    acceptance: AcceptancePolicy
    position: int

    def settled(self) -> dict[str, Settled]:
        return {doc["policy_id"]: settle(doc, self.tiers, self.acceptance)
                for doc in self.policies}


def state_docs(tracker: Tracker, *, as_of: When | None = None,
               world_as_of: When | None = None) -> StateDocs:
    """The policy, actor and publisher documents: from the projection tables when asked about
    now, by replaying the log in memory when asked about a past date (on either time axis)."""
    recorded_until = as_of.recorded_until if as_of else None
    acceptance = acceptance_in_force(tracker, recorded_until)
    if as_of is None and world_as_of is None:
        positions = projector(tracker).catch_up(STATUS_PROJECTIONS)
        policies = [doc for _key, doc in load_docs(tracker.engine, "policy_state")]
        actors = dict(load_docs(tracker.engine, "actors", order_by_sort=False))
        publishers = dict(load_docs(tracker.engine, "publishers", order_by_sort=False))
        return StateDocs(policies, actors, _tiers(publishers), acceptance,
                         max(positions["policy_state"], positions["actors"]))
    known = _status_events(tracker, recorded_until, world_as_of)
    policy, actor, publisher = (PROJECTIONS[name] for name in STATUS_PROJECTIONS)
    in_world = known if world_as_of is None else [
        e for e in known
        if e.type in KNOWN_NOW_TYPES or world_as_of.reached(e.occurred_until,
                                                             e.occurred_precision)]
    policies = [doc for _key, doc in sorted(fold_all(policy, in_world).items())]
    return StateDocs(policies, fold_all(actor, known), _tiers(fold_all(publisher, known)),
                     acceptance, in_world[-1].position if in_world else 0)


def _status_events(tracker: Tracker, recorded_until: datetime | None,
                   world_as_of: When | None) -> list[RecordedEvent]:
    """The events a status replays, in log order. As of a world date, the types only the
    policy document folds (news, in bulk) are read only as far as the date reaches (less the
    calendar's slack; the caller keeps exactly those that had happened): the rest of the
    record's news is never read."""
    policy, actor, publisher = (PROJECTIONS[name] for name in STATUS_PROJECTIONS)
    types = wanted_types(policy) | wanted_types(actor) | wanted_types(publisher)
    bounded = types - wanted_types(actor) - wanted_types(publisher) - KNOWN_NOW_TYPES
    if world_as_of is None or not bounded:
        return list(tracker.store.read(types=sorted(types), recorded_until=recorded_until))
    rest = tracker.store.read(types=sorted(types - bounded), recorded_until=recorded_until)
    news = tracker.store.read(types=sorted(bounded), recorded_until=recorded_until,
                              occurred_by=world_as_of.before + CALENDAR_SLACK)
    return list(heapq.merge(rest, news, key=attrgetter("position")))


def _tiers(publisher_docs: Mapping[str, Doc]) -> dict[str, str]:
    return {name: str(doc.get("tier")) for name, doc in publisher_docs.items()
            if doc.get("tier")}


def acceptance_in_force(tracker: Tracker, recorded_until: datetime | None = None
                        ) -> AcceptancePolicy:
    """The acceptance policy the log had put in force by ``recorded_until`` (the packaged one
    for a log that records none)."""
    latest = None
    for event in tracker.store.read(types=[ACCEPTANCE_POLICY_SET],
                                    recorded_until=recorded_until):
        latest = event
    if latest is None:
        return packaged_acceptance_policy()
    return policy_from_data(latest.data, f"acceptance policy at position {latest.position}")


def status(tracker: Tracker, *, as_of: When | None = None,
           world_as_of: When | None = None) -> dict[str, Any]:
    """The state of every tracked policy, now or as of a past date on either time axis; the
    state moves only through accepted claims."""
    docs = state_docs(tracker, as_of=as_of, world_as_of=world_as_of)
    report = status_report(docs.policies, docs.actors, position=docs.position,
                           as_of=iso(as_of.recorded_until) if as_of else None,
                           world_as_of=iso(world_as_of.before) if world_as_of else None,
                           settled=docs.settled())
    return labelled(report, as_of=as_of, world_as_of=world_as_of)


def labelled(report: dict[str, Any], **bounds: When | None) -> dict[str, Any]:
    """``report`` with ``<name>_label`` beside each bound given: what it means in words, in
    the user's zone ("end of 2024 (2024-12-31 23:59 HKT)"), for headers to show."""
    for name, bound in bounds.items():
        if bound is not None:
            report[f"{name}_label"] = bound.label()
    return report


def timeline(tracker: Tracker, *, since: When | None = None,
             until: When | None = None) -> dict[str, Any]:
    """What happened in the world, in world order: from the start of ``since``'s period to
    the end of ``until``'s (dates from the record read on the calendar of the user's zone)."""
    projector(tracker).catch_up(["timeline"])
    lower, upper = iso(since.start) if since else None, iso(until.before) if until else None
    bounds = timeline_bounds(lower, upper)
    entries = [doc for _key, doc in load_docs_between(
        tracker.engine, "timeline", bounds.lower, bounds.upper,
        reach=(bounds.reach, "occurred_until", bounds.lower)
        if bounds.reach is not None and bounds.lower is not None else None)]
    bound = since or until
    zone = bound.zone if bound is not None else None
    report = timeline_report(entries, lower, upper, zone=zone)
    report["since"], report["until"] = (since.text if since else None,
                                        until.text if until else None)
    return labelled(report, since=since.as_lower() if since else None, until=until)


def diff(tracker: Tracker, *, since: When | None = None, until: When | None = None,
         recorded_since: When | None = None, as_of: When | None = None) -> dict[str, Any]:
    """What changed between two states: facts added, changed, retracted.

    On the world axis, from the state of the world at the start of ``since``'s period to its
    state at the end of ``until``'s (default now); on the log's, from what it knew at the start
    of ``recorded_since``'s period to what it knew at the end of ``as_of``'s (default now).
    Either axis or both."""
    if until is not None and since is None:
        raise UsageError("diff --until needs --since: both are world time")
    if as_of is not None and recorded_since is None:
        raise UsageError("diff --as-of needs --recorded-since: both are log time")
    if since is None and recorded_since is None:
        raise UsageError("diff needs --since WHEN (world time) or --recorded-since WHEN "
                         "(log time)")
    if since is not None and until is None:  # the world as it stands now, nothing planned
        until = parse_when("now", since.now, since.zone)
    before = status(tracker, as_of=recorded_since.as_lower() if recorded_since else None,
                    world_as_of=since.as_lower() if since else None)
    after = status(tracker, as_of=as_of, world_as_of=until if since else None)
    return diff_report(before, after)


def require_writable(tracker: Tracker, action: str) -> None:
    """Refuse, in one line, a command whose whole point is to store something, on a database
    opened read-only (reads there catch projections up in memory only)."""
    if tracker.read_only:
        raise TrackerError(f"cannot {action}: {masked(tracker.url)} is read-only here")


def replay(tracker: Tracker, names: Sequence[str] | None = None,
           progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Drop the named projections (all by default) and rebuild them from the log."""
    _check_projections(names)
    require_writable(tracker, "rebuild projections")
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
    if not 1 <= position <= MAX_POSITION:
        raise UsageError(f"position {position} is not in the range 1 to {MAX_POSITION}")
    target = tracker.store.get(position)
    if target is None:
        raise UsageError(f"no event at position {position} (the log ends at "
                         f"{tracker.store.head()})")
    if target.type == RETRACTED:
        raise UsageError(f"position {position} is itself a retraction; retractions stand")
    if target.type in STORY_CORRECTION_TYPES:
        raise UsageError(f"position {position} is an analyst's {target.type}, which later "
                         "ingests build on: correct it with `tracker stories merge` or "
                         "`tracker stories split`, not a retraction")
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
            raise AlreadyError(f"position {position} was already retracted "
                               f"(at {existing.position})")
        withdrawn = [_retraction(tracker, fact, f"withdrawn with position {position}: "
                                 f"{reason.strip()}", actor)
                     for fact in facts_resting_on(tracker, target, conn)]
        stored = tracker.store.by_ids([w.event_id for w in withdrawn], conn=conn)
        withdrawn = [w for w in withdrawn if w.event_id not in stored]
        if withdrawn:
            tracker.store.append_in(conn, CORRECTIONS_STREAM, withdrawn)
        [recorded] = tracker.store.append_in(conn, CORRECTIONS_STREAM, [event])
    return recorded


def facts_resting_on(tracker: Tracker, target: RecordedEvent,
                     conn: sa.Connection | None = None) -> list[RecordedEvent]:
    """The facts (claims' sources) an item or story carries: withdrawing it withdraws them."""
    if target.type not in (ITEM_RECORDED, STORY_CREATED, STORY_CORROBORATED):
        return []
    item = (str(target.data.get("feed")), str(target.data.get("item_key")))
    story = target.data.get("story_id") if target.type == STORY_CREATED else None
    found = []
    for fact in tracker.store.read(types=[FACT_EXTRACTED], conn=conn):
        source = fact.meta.get("source") or {}
        if (story is not None and fact.data.get("story_id") == story) or \
                (str(source.get("feed")), str(source.get("item_key"))) == item:
            found.append(fact)
    return found


def _retraction(tracker: Tracker, target: RecordedEvent, reason: str, actor: str) -> NewEvent:
    return withdrawal(target, reason, actor, tracker.now())


def withdrawal(target: RecordedEvent, reason: str, actor: str, now: datetime) -> NewEvent:
    """The retraction of ``target``: one per event ever (its id follows the target's)."""
    return NewEvent(RETRACTED, {"target_position": target.position,
                                "target_event_id": target.event_id, "reason": reason.strip()},
                    now, meta={"actor": actor, "causation_id": target.event_id},
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
            raise AlreadyError(f"position {position} was already retracted "
                               f"(at {existing.position}); correct the replacement instead")
        out = tracker.store.append_in(conn, CORRECTIONS_STREAM, [retraction])
        out += tracker.store.append_in(conn, target.stream_id, [replacement])
    return out
