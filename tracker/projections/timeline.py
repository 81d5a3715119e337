"""What happened when: one entry per dossier or news event, ordered by when it happened.

Entries are keyed by log position, so each is written once. A retracted event's entry is deleted
rather than marked: the timeline answers "what happened", and the log itself keeps the record of
what was withdrawn and why. A correction's replacement event appears as its own entry, carrying
``corrects``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.catalogue import (
    AGREEMENT_SIGNED,
    COMMENTARY_RECORDED,
    CONTEXT_RECORDED,
    DOSSIER_TYPES,
    FACT_EXTRACTED,
    FOLLOW_UP_TYPES,
    MILESTONE_RECORDED,
    OUTCOME_EXPECTED,
    POLICY_FACT_ASSERTED,
    POLICY_PARTY_ADDED,
    POLICY_STATUS_CHANGED,
    POLICY_TRACKED,
    QUESTION_OPENED,
    QUESTION_RESOLVED,
    RETRACTED,
    STORY_CREATED,
)
from tracker.dates import date_label, iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projections.shared import citation_of

SUMMARY_MAX = 160


def _short(value: Any) -> str:
    """A value as words ("first firms served, 20 firms"), never a Python or JSON repr."""
    if isinstance(value, list):
        return ", ".join(_short(v) for v in value)
    if isinstance(value, Mapping):
        from tracker.render.words import mapping

        return mapping(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _amount(data: Mapping[str, Any]) -> str:
    value = data.get("value")
    if value is None:
        return ""
    unit = data.get("unit")
    qualifier = str(data.get("qualifier") or "").replace("_", " ")  # "up to 145%"
    lead = f"{qualifier} " if qualifier and qualifier != "exactly" else ""
    if unit == "percent":
        return f" ({lead}{value}%)"
    return f" ({lead}{value} {unit})" if unit else f" ({lead}{value})"


def summarise(event_type: str, data: Mapping[str, Any]) -> str:
    """A one-line account of an event, for a terminal or a briefing."""
    if event_type == POLICY_TRACKED:
        line = f"Tracking: {data.get('title')}"
    elif event_type == POLICY_STATUS_CHANGED:
        note = data.get("note")
        line = f"Status: {data.get('status')}" + (f" ({note})" if note else "")
    elif event_type == POLICY_FACT_ASSERTED:
        line = f"{data.get('key')}: {_short(data.get('value'))}"
    elif event_type == POLICY_PARTY_ADDED:
        role = data.get("role")
        line = f"Party: {data.get('actor_id')}" + (f", {role}" if role else "")
    elif event_type == MILESTONE_RECORDED:
        line = f"{str(data.get('kind') or 'milestone').capitalize()}: {data.get('title')}"
    elif event_type == AGREEMENT_SIGNED:
        count = data.get("project_count")
        qualifier = str(data.get("count_qualifier") or "").replace("_", " ")
        words = " ".join(w for w in (qualifier, str(count), "projects") if w)
        projects = f" ({words})" if count is not None else ""
        line = f"Agreement: {data.get('title')}{projects}"
    elif event_type == CONTEXT_RECORDED:
        line = f"Context [{data.get('thread')}]: {data.get('title')}{_amount(data)}"
    elif event_type == COMMENTARY_RECORDED:
        line = f"{data.get('actor_id')} ({data.get('stance')}): {data.get('summary')}"
    elif event_type == QUESTION_OPENED:
        line = f"Open question: {data.get('text')}"
    elif event_type == QUESTION_RESOLVED:
        line = f"Answered {data.get('question_id')}: {data.get('answer')}"
    elif event_type == OUTCOME_EXPECTED:
        line = f"Expected: {data.get('text')}"
    elif event_type == STORY_CREATED:
        line = f"Story: {data.get('title')}"
    elif event_type == FACT_EXTRACTED:
        kind = str(data.get("kind") or "fact").replace("_", " ")
        line = f"News fact ({kind}): {_short(data.get('value'))}"
    else:
        line = event_type
    line = " ".join(line.split())
    return line if len(line) <= SUMMARY_MAX else line[:SUMMARY_MAX - 1].rstrip() + "…"


class Timeline(Projection):
    """One document per dossier or news event, sorted by when it happened in the world."""

    name = "timeline"
    version = 3  # 3: news facts' values as words
    types: frozenset[str] = DOSSIER_TYPES | FOLLOW_UP_TYPES

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        return [f"{event.position:012d}"] if event.type in self.types else []

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.type == RETRACTED:
            return None
        if event.type not in self.types:
            return doc
        data = event.data
        return {
            "position": event.position,
            "event_id": event.event_id,
            "type": event.type,
            "policy_id": data.get("policy_id"),
            "occurred_at": date_label(event.occurred_at, event.occurred_precision),
            "precision": event.occurred_precision,
            "occurred_start": iso(event.occurred_at),
            "occurred_until": iso(event.occurred_until),
            "occurred_note": event.meta.get("occurred_note"),
            "estimated": event.meta.get("occurred_estimated") is True,
            "stated": event.meta.get("stated") is not False,
            "recorded_at": iso(event.recorded_at),
            "summary": summarise(event.type, data),
            "source": citation_of(event),
            "corrects": event.meta.get("corrects"),
        }

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{doc.get('occurred_start', '')}\x1f{key}"
