"""Relevance rules as events: the rules in force are the last ``rules.set`` of a policy.

Recording the rules file itself (not just its version) means every decision in the log can be
re-checked against the exact rules it names, and ingest and reclassify on any machine use the
same rules without a file being copied around. A log that records none falls back to the
packaged seeds/relevance.toml.

Ingest and reclassify follow every tracked dossier (each ``policy.tracked``; a log that tracks
none follows the packaged dossiers) under that dossier's own rules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tracker.app import Tracker
from tracker.catalogue import POLICY_TRACKED, RULES_SET
from tracker.dates import iso
from tracker.db import write_connection
from tracker.errors import AlreadyError, UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.ingest import relevance
from tracker.seeding import DossierRules, packaged_dossier_ids

#: Where the packaged rules say they come from, in events and reports.
PACKAGED_SOURCE = f"seeds/{relevance.RULES_FILE}"
#: When seeding says the packaged rules were set: the dossier's own start.
SEEDED_AT = datetime(2025, 5, 1)


def rules_stream(policy_id: str) -> str:
    return f"rules:{policy_id}"


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """Rules in force for a policy and where they came from (``event`` None: the packaged
    file, as the log records none)."""

    policy_id: str
    rules: relevance.Rules
    source: str
    event: RecordedEvent | None = None


def rules_set_event(policy_id: str, rules: relevance.Rules, text: str, source: str,
                    occurred_at: datetime, actor: str) -> NewEvent:
    """The ``rules.set`` event for ``text`` (already parsed into ``rules``)."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return NewEvent(RULES_SET, {"policy_id": policy_id, "version": rules.version,
                                "text": text, "source": source},
                    occurred_at, meta={"actor": actor},
                    event_id=deterministic_id("rules", policy_id, rules.version, digest))


def _latest(tracker: Tracker, policy_id: str, conn: Any = None) -> RecordedEvent | None:
    latest = None
    for event in tracker.store.read(stream_id=rules_stream(policy_id), types=[RULES_SET],
                                    conn=conn):
        latest = event
    return latest


def followed_policies(tracker: Tracker) -> list[str]:
    """The dossiers ingest classifies for: every tracked policy (first tracked first), or the
    packaged dossiers while the log tracks none."""
    tracked = dict.fromkeys(str(e.data["policy_id"])
                            for e in tracker.store.read(types=[POLICY_TRACKED]))
    return list(tracked) or packaged_dossier_ids()


def policy_or_only(tracker: Tracker, policy_id: str | None) -> str:
    """``policy_id`` when given, else the one dossier followed (a usage error when several)."""
    if policy_id is not None:
        return policy_id
    followed = followed_policies(tracker)
    if len(followed) != 1:
        raise UsageError(f"{len(followed)} dossiers are tracked "
                         f"({', '.join(followed) or 'none'}): name one with --policy")
    return followed[0]


def rules_by_policy(tracker: Tracker, path: str | Path | None = None,
                    policy_id: str | None = None) -> dict[str, relevance.Rules]:
    """The rules ingest and reclassify run under, per dossier: with ``path``, that file for
    ``policy_id`` (or the one dossier followed); else every followed dossier's active rules."""
    if path is not None:
        return {policy_or_only(tracker, policy_id): rules_in_force(tracker, path)}
    policies = [policy_id] if policy_id is not None else followed_policies(tracker)
    return {policy: active_rules(tracker, policy).rules for policy in policies}


def active_rules(tracker: Tracker, policy_id: str) -> ActiveRules:
    """The rules the log has put in force for ``policy_id``, or the packaged ones."""
    event = _latest(tracker, policy_id)
    if event is None:
        return ActiveRules(policy_id, relevance.load_rules(), PACKAGED_SOURCE)
    where = f"rules.set at position {event.position}"
    rules = relevance.parse_rules(str(event.data["text"]), where)
    return ActiveRules(policy_id, rules, str(event.data.get("source", "")), event)


def rules_in_force(tracker: Tracker, path: str | Path | None = None,
                   policy_id: str | None = None) -> relevance.Rules:
    """The rules file at ``path`` when given (a bad one is a usage error), else the active
    rules of ``policy_id`` (or the one dossier followed)."""
    if path is None:
        return active_rules(tracker, policy_or_only(tracker, policy_id)).rules
    try:
        return relevance.load_rules(path)
    except relevance.RulesError as exc:
        raise UsageError(str(exc)) from None


def set_rules(tracker: Tracker, path: str | Path, policy_id: str,
              actor: str = "analyst") -> tuple[ActiveRules, bool]:
    """Put the rules file at ``path`` in force for ``policy_id``; returns the active rules and
    whether anything was recorded (the version already in force records nothing)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        rules = relevance.parse_rules(text, str(file))
    except OSError as exc:
        raise UsageError(f"{file}: cannot read ({exc.strerror or exc})") from None
    except relevance.RulesError as exc:
        raise UsageError(str(exc)) from None
    event = rules_set_event(policy_id, rules, text, str(file), tracker.now(), actor)
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        latest = _latest(tracker, policy_id, conn)
        if latest is not None and latest.data.get("version") == rules.version:
            if latest.data.get("text") != text:
                raise AlreadyError(f"{file}: version {rules.version} is already in force "
                                   "with different rules: give the changed rules a new "
                                   "version")
            return ActiveRules(policy_id, rules, str(latest.data.get("source")), latest), False
        if latest is not None and tracker.store.by_ids([event.event_id], conn=conn):
            # these exact rules were in force before: record putting them back
            event = NewEvent(event.type, event.data, event.occurred_at, meta=event.meta)
        [recorded] = tracker.store.append_in(conn, rules_stream(policy_id), [event])
    return ActiveRules(policy_id, rules, str(file), recorded), True


def seed_events(tracker: Tracker, named: DossierRules) -> list[tuple[str, NewEvent]]:
    """The rules a dossier seed names as the dossier's first ``rules.set`` (seeding again
    never overrides rules an analyst set)."""
    try:
        rules = relevance.parse_rules(named.text, named.source)
    except relevance.RulesError as exc:
        raise UsageError(str(exc)) from None
    policy_id = named.policy_id
    event = rules_set_event(policy_id, rules, named.text, named.source, SEEDED_AT, "seed")
    # the same event again is harmless (appending it is a no-op, counted as already there)
    if _latest(tracker, policy_id) is not None and not tracker.store.by_ids([event.event_id]):
        return []
    return [(rules_stream(policy_id), event)]


def rules_report(active: ActiveRules) -> dict[str, Any]:
    """What `tracker rules show` prints: version, when and by which event, terms per tier."""
    event = active.event
    rules = active.rules
    return {
        "policy_id": active.policy_id, "version": rules.version, "source": active.source,
        "recorded": event is not None,
        "set_at": iso(event.recorded_at) if event is not None else None,
        "position": event.position if event is not None else None,
        "actor": event.meta.get("actor") if event is not None else None,
        "tiers": {tier.name: {"terms": len(tier.terms), "threshold": tier.threshold,
                              "vetoes": len(tier.vetoes)}
                  for tier in (rules.core, rules.context) if tier is not None},
    }
