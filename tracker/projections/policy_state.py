"""The state of each tracked policy, with the provenance of every fact.

A document keeps ``history``: for each fact slot (the status, a keyed fact, an agreement, a context
measure...) the list of assertions that set it, oldest first. The visible fields are rebuilt from
the last assertion of each slot, so retracting position P is just "drop P's assertions and
rebuild": whatever P had superseded comes back on its own.

News follow-ups (stories and the facts extracted from them) arrive without end; what they add
is bounded, as ``tracker.projections.policy_news`` describes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tracker.catalogue import (
    AGREEMENT_SIGNED,
    COMMENTARY_RECORDED,
    CONTEXT_RECORDED,
    DECISION_TYPES,
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
    STORY_CORROBORATED,
    STORY_CREATED,
    story_policies,
)
from tracker.dates import iso, precision_of
from tracker.events import RecordedEvent
from tracker.projections import policy_news
from tracker.projections.base import Doc, Projection
from tracker.projections.shared import (
    History,
    assertion,
    current,
    dated,
    item,
    prune,
    push,
    retracted_position,
    without_position,
)

#: How many stories a policy document lists, and how many it keeps so a retraction can refill.
STORIES_SHOWN = 10
STORIES_KEPT = 2 * STORIES_SHOWN

_DATE_KEYS = {"announced": "announced_at", "implemented": "implemented_at", "ended": "ended_at"}
_STATUS_DATES = {"announced": "announced", "in_force": "implemented", "ended": "ended"}


# -- folding into history ----------------------------------------------------------------------

def _without_policy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "policy_id"}


def _fold(history: History, event: RecordedEvent, *, prune_news: bool = True) -> bool:
    """Record ``event`` in ``history``; False when it says nothing this projection keeps
    (``prune_news``: see ``policy_news.fold_extracted``)."""
    data = event.data
    kind = event.type
    if kind == POLICY_TRACKED:
        push(history, "policy", assertion(event, _without_policy(data)))
    elif kind == POLICY_STATUS_CHANGED:
        push(history, "status", assertion(event, {"status": data.get("status"),
                                                  "note": data.get("note")}))
    elif kind == POLICY_FACT_ASSERTED:
        push(history, f"fact:{data['key']}", assertion(
            event, {"value": data.get("value"), "note": data.get("note")}))
    elif kind == POLICY_PARTY_ADDED:
        push(history, f"party:{data['actor_id']}", assertion(event, _without_policy(data)))
    elif kind == MILESTONE_RECORDED:
        push(history, f"milestone:{data['milestone_id']}", assertion(event,
                                                                      _without_policy(data)))
    elif kind == AGREEMENT_SIGNED:
        push(history, f"agreement:{data['agreement_id']}", assertion(event,
                                                                      _without_policy(data)))
    elif kind == CONTEXT_RECORDED:
        push(history, f"context:{data['measure_id']}", assertion(event, _without_policy(data)))
    elif kind == COMMENTARY_RECORDED:
        push(history, f"commentary:{data['commentary_id']}", assertion(
            event, _without_policy(data)))
    elif kind == QUESTION_OPENED:
        push(history, f"question:{data['question_id']}", assertion(event,
                                                                    _without_policy(data)))
    elif kind == QUESTION_RESOLVED:
        push(history, f"answer:{data['question_id']}", assertion(event, _without_policy(data)))
    elif kind == OUTCOME_EXPECTED:
        push(history, f"outcome:{data['outcome_id']}", assertion(event, _without_policy(data)))
    elif kind == STORY_CREATED:
        push(history, f"story:{data['story_id']}", assertion(event, {
            "story_id": data["story_id"], "title": data.get("title"), "url": data.get("url"),
            "published": data.get("published"),
            "published_source": data.get("published_source", "feed")}))
        prune(history, "story:", STORIES_KEPT)
    elif kind == STORY_CORROBORATED:
        # an item relevant to this dossier joined a story begun for another: it follows it too
        slot = f"story:{data['story_id']}"
        if slot in history:
            return False
        push(history, slot, assertion(event, {
            "story_id": data["story_id"], "title": data.get("title"), "url": data.get("link"),
            "published": iso(event.occurred_at),
            "published_source": data.get("published_source", "feed")}))
        prune(history, "story:", STORIES_KEPT)
    elif kind == FACT_EXTRACTED:
        policy_news.fold_extracted(history, event, data, prune_news=prune_news)
    elif kind in DECISION_TYPES:
        policy_news.fold_decision(history, event, data)
    else:
        return False
    return True


# -- the visible document ----------------------------------------------------------------------

def _dates(history: History, facts: Mapping[str, Any]) -> dict[str, Any]:
    dates: dict[str, Any] = {}
    for entry in history.get("status", []):
        name = _STATUS_DATES.get(entry["value"].get("status"))
        if name and name not in dates:
            dates[name] = {"value": entry["occurred_at"], "precision": entry["precision"],
                           "note": entry["value"].get("note"), "sources": entry["sources"]}
    for name, fact_key in _DATE_KEYS.items():
        fact = facts.get(fact_key)
        if fact is not None:
            dates[name] = {"value": str(fact["value"]),
                           "precision": precision_of(str(fact["value"])),
                           "note": fact.get("note"), "sources": fact["sources"]}
    return dates


def _actor_ids(value: Mapping[str, Any]) -> Iterable[str]:
    for name in ("actor_id", "via", "led_by", "imposer"):
        found = value.get(name)
        if isinstance(found, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", found):
            yield found
    for found in value.get("actor_ids") or ():
        if isinstance(found, str):
            yield found


def build(policy_id: str, history: History, event: RecordedEvent) -> Doc:
    """The visible document for ``history`` after ``event``."""
    status_entries = history.get("status", [])
    status = status_entries[-1] if status_entries else None
    policy = history.get("policy", [None])[-1]
    facts = {slot.removeprefix("fact:"): {
        "value": entry["value"].get("value"), "note": entry["value"].get("note"),
        "occurred_at": entry["occurred_at"], "precision": entry["precision"],
        "position": entry["position"], "sources": entry["sources"],
        "superseded": [e["position"] for e in history[slot][:-1]], **dated(entry),
    } for slot, entry in current(history, "fact:")}
    context: dict[str, list[dict[str, Any]]] = {}
    for slot, entry in current(history, "context:"):
        measure = item(entry)
        measure["superseded"] = [{"position": e["position"], "value": e["value"].get("value")}
                                 for e in history[slot][:-1]]
        context.setdefault(str(measure.get("thread") or "other"), []).append(measure)
    tariffs = context.get("tariffs", [])
    latest_tariff = max(tariffs, key=lambda m: m["position"]) if tariffs else None
    answers = {slot.removeprefix("answer:"): entry for slot, entry in current(history, "answer:")}
    questions = []
    for slot, entry in current(history, "question:"):
        question = item(entry)
        answer = answers.get(slot.removeprefix("question:"))
        question["resolved"] = answer is not None
        question["answer"] = answer["value"].get("answer") if answer else None
        question["answer_sources"] = answer["sources"] if answer else []
        questions.append(question)
    stories = sorted((item(e) for _s, e in current(history, "story:")),
                     key=lambda s: s["position"], reverse=True)[:STORIES_SHOWN]
    news = sorted((item(e) for _s, e in current(history, "news:")),
                  key=lambda n: n["position"], reverse=True)
    milestones = [item(e) | {"occurred_start": e["occurred_start"]}
                  for _s, e in current(history, "milestone:")]
    milestones.sort(key=lambda m: (m["occurred_start"], m["position"]))
    stakeholders: list[str] = []
    for _slot, entries in sorted(history.items(), key=lambda kv: kv[1][0]["position"]):
        value = entries[-1]["value"]
        if isinstance(value, Mapping):
            for actor in _actor_ids(value):
                if actor not in stakeholders:
                    stakeholders.append(actor)
    sectors = facts.get("sectors", {}).get("value")
    return {
        "policy_id": policy_id,
        "position": event.position,
        "updated_at": iso(event.recorded_at),
        "title": policy["value"].get("title") if policy else None,
        "summary": policy["value"].get("summary") if policy else None,
        "jurisdictions": policy["value"].get("jurisdictions") if policy else None,
        "title_sources": policy["sources"] if policy else [],
        "status": status["value"].get("status") if status else None,
        "status_note": status["value"].get("note") if status else None,
        "status_sources": status["sources"] if status else [],
        "status_dating": dated(status) if status else None,
        "status_history": [{"status": e["value"].get("status"), "note": e["value"].get("note"),
                            "occurred_at": e["occurred_at"], "precision": e["precision"],
                            "occurred_start": e["occurred_start"],
                            "position": e["position"], "sources": e["sources"]}
                           for e in status_entries],
        "dates": _dates(history, facts),
        "parties": [item(e) for _s, e in current(history, "party:")],
        "facts": facts,
        "sectors": list(sectors) if isinstance(sectors, list) else [],
        "agreements": [item(e) for _s, e in current(history, "agreement:")],
        "context": context,
        "latest_tariff": latest_tariff,
        "stakeholders": stakeholders,
        "commentary": [item(e) for _s, e in current(history, "commentary:")],
        "questions": questions,
        "outcomes": [item(e) for _s, e in current(history, "outcome:")],
        "milestones": milestones,
        "listings": [item(e) for _s, e in current(history, "listing:")],
        "stories": stories,
        "news_facts": news,
        "claims": policy_news.claims(history),
        "claim_decisions": policy_news.decisions(history),
        "history": history,
    }


#: Marks a document whose visible fields are not built yet; holds the event it was last folded.
_LAST = "_folded_until"


def _only_policy(event: RecordedEvent) -> str | None:
    """The one policy an event names (None for a story that follows several)."""
    if event.type in (STORY_CREATED, STORY_CORROBORATED):
        ids = _story_policies(event)
        return ids[0] if len(ids) == 1 else None
    policy_id = event.data.get("policy_id")
    return str(policy_id) if policy_id else None


def _story_policies(event: RecordedEvent) -> list[str]:
    if event.type == STORY_CREATED:
        return story_policies(event.data)
    return [str(p) for p in event.data.get("policy_ids") or ()]


#: In a deferred document: news facts folded since the news slots were last pruned.
_UNPRUNED = "_news_unpruned"
#: Pruning news slots walks every slot of the history; deferred folds do it once per this many
#: news facts (and before a retraction or building the document) rather than per fact.
NEWS_PRUNED_EVERY = 50


def _news_pruned(history: History, unpruned: int) -> History:
    if not unpruned:
        return history
    pruned = dict(history)
    policy_news.prune_news_facts(pruned)
    return pruned


def _pending(policy_id: str, history: History, event: RecordedEvent) -> Doc:
    return {"policy_id": policy_id, "history": history, _LAST: event}


class PolicyState(Projection):
    """One document per policy: what is known about it now, and where each piece came from."""

    name = "policy_state"
    version = 5  # 5: a story joined by an item relevant to another dossier follows it too
    types: frozenset[str] = DOSSIER_TYPES | FOLLOW_UP_TYPES | DECISION_TYPES | {
        STORY_CORROBORATED}

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        if event.type not in self.types:
            return []
        if event.type in (STORY_CREATED, STORY_CORROBORATED):
            return _story_policies(event)  # a story follows every dossier its items matched
        policy_id = event.data.get("policy_id")
        return [str(policy_id)] if policy_id else []

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        return self.finish(self.evolve_deferred(doc, event))

    def evolve_deferred(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        """``evolve`` without building the visible document: the fold records what ``finish``
        needs, so a batch of events into one policy builds it once rather than per event."""
        unpruned = doc.get(_UNPRUNED, 0) if doc is not None else 0
        if event.type == RETRACTED:
            target = retracted_position(event)
            if doc is None or target is None:
                return doc
            remaining = without_position(_news_pruned(doc["history"], unpruned), target)
            return _pending(doc["policy_id"], remaining, event) if remaining else None
        if event.type not in self.types:
            return doc
        policy_id = str((doc or {}).get("policy_id") or _only_policy(event) or "")
        if not policy_id:
            return doc
        # Shallow: _fold replaces the lists it changes and never edits an entry in place.
        history: History = dict(doc["history"]) if doc else {}
        news = event.type == FACT_EXTRACTED
        later = news and unpruned < NEWS_PRUNED_EVERY  # one prune per so many news facts
        if not _fold(history, event, prune_news=not later):
            return doc
        folded = _pending(policy_id, history, event)
        if later or (unpruned and not news):
            folded[_UNPRUNED] = unpruned + later
        return folded

    def finish(self, doc: Doc | None) -> Doc | None:
        """The visible document for a deferred one (others are returned as they are)."""
        if doc is None or _LAST not in doc:
            return doc
        return build(doc["policy_id"], _news_pruned(doc["history"], doc.get(_UNPRUNED, 0)),
                     doc[_LAST])

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{(doc.get('title') or '').lower()}\x1f{key}"
