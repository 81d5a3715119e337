"""The state of each tracked policy, with the provenance of every fact.

A document keeps ``history``: for each fact slot (the status, a keyed fact, an agreement, a context
measure...) the list of assertions that set it, oldest first. The visible fields are rebuilt from
the last assertion of each slot, so retracting position P is just "drop P's assertions and
rebuild": whatever P had superseded comes back on its own.

News follow-ups arrive without end, so what they add is bounded: each slot keeps every dossier
assertion but only its ``NEWS_PER_SLOT`` latest news ones (and, in ``status``, the first news
assertion of each status, which dates it); slots news alone opened are kept for the
``NEWS_SLOTS_KEPT`` latest of each kind; a value's list of sources keeps its dossier sources and
its ``NEWS_SOURCES_KEPT`` latest news ones. Retracting news therefore brings back what it had
superseded as long as that is among what is kept: only retracting more than ``NEWS_PER_SLOT``
news assertions of one slot falls back past the older news to the dossier value.

The helpers at the top (provenance, dates, history) are shared by the other projections.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from tracker.catalogue import DOSSIER_TYPES, FOLLOW_UP_TYPES, STATUSES, upcast
from tracker.events import RecordedEvent, iso
from tracker.projections.base import Doc

RETRACTED = "event.retracted"
#: How many stories a policy document lists, and how many it keeps so a retraction can refill.
STORIES_SHOWN = 10
STORIES_KEPT = 2 * STORIES_SHOWN
#: How many extracted news facts a policy document keeps.
NEWS_FACTS_KEPT = 50
#: News assertions kept per slot, news-only slots kept per kind, news sources kept per value.
NEWS_PER_SLOT = 10
NEWS_SLOTS_KEPT = 20
NEWS_SOURCES_KEPT = 10
NEWS = "fact.extracted"
_NEWS_SLOT_KINDS = ("context:", "agreement:", "listing:")

History = dict[str, list[dict[str, Any]]]

_DATE_KEYS = {"announced": "announced_at", "implemented": "implemented_at", "ended": "ended_at"}
_STATUS_DATES = {"announced": "announced", "in_force": "implemented", "ended": "ended"}

#: News wording for a mechanism's state, mapped onto the lifecycle in the catalogue.
MECHANISM_STATUS = {
    "proposed": "proposed", "planned": "proposed", "under_discussion": "proposed",
    "announced": "announced", "agreed": "announced", "unveiled": "announced",
    "signed": "announced",
    "launched": "in_force", "operational": "in_force", "in_operation": "in_force",
    "started": "in_force", "in_force": "in_force", "effective": "in_force",
    "implemented": "in_force", "live": "in_force",
    "amended": "amended", "revised": "amended", "expanded": "amended",
    "suspended": "suspended", "paused": "suspended", "halted": "suspended",
    "ended": "ended", "scrapped": "ended", "terminated": "ended", "abolished": "ended",
    "cancelled": "ended", "uncertain": "uncertain", "stalled": "uncertain",
}


# -- shared helpers --------------------------------------------------------------------------

def occurred_label(dt: datetime, precision: str) -> str:
    """A date written no finer than it is known: "2025", "2025-04", "2025-04-25"."""
    if precision == "year":
        return f"{dt.year:04d}"
    if precision == "month":
        return f"{dt.year:04d}-{dt.month:02d}"
    if precision == "day":
        return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"
    return iso(dt)


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


def event_data(event: RecordedEvent) -> dict[str, Any]:
    """The event's data at the catalogue's current version (readers may hand older shapes)."""
    return dict(upcast(event.type, event.schema_version, event.data)[1])


def assertion(event: RecordedEvent, value: Any,
              sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "position": event.position,
        "type": event.type,
        "occurred_at": occurred_label(event.occurred_at, event.occurred_precision),
        "precision": event.occurred_precision,
        "occurred_start": iso(event.occurred_at),
        "value": value,
        "sources": sources if sources is not None else [provenance(event)],
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
               position=entry["position"], sources=entry["sources"])
    return out


def slug(text: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:60] or "unnamed"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    text = str(value).strip().rstrip("%").strip().replace(",", "")
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


# -- folding into history ----------------------------------------------------------------------

def _push(history: History, slot: str, entry: dict[str, Any]) -> None:
    """Append ``entry`` to ``slot`` in a new list (lists may be shared with an earlier doc)."""
    history[slot] = [*history.get(slot, ()), entry]


def _news_source(source: Mapping[str, Any]) -> bool:
    citation = source.get("citation") or {}
    return "story_id" in citation and "id" not in citation


def _bound_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every dossier source, and the ``NEWS_SOURCES_KEPT`` first (latest) news sources."""
    out: list[dict[str, Any]] = []
    news = 0
    for source in sources:
        if _news_source(source):
            news += 1
            if news > NEWS_SOURCES_KEPT:
                continue
        out.append(source)
    return out


def _bound_slot(history: History, slot: str) -> None:
    """Drop news assertions of ``slot`` beyond its ``NEWS_PER_SLOT`` latest (see the module)."""
    entries = history.get(slot)
    if not entries:
        return
    news = sum(1 for e in entries if e["type"] == NEWS)
    if news <= NEWS_PER_SLOT:
        return
    drop = news - NEWS_PER_SLOT
    seen_status: set[Any] = set()
    kept = []
    for entry in entries:
        status = entry["value"].get("status") if slot == "status" else None
        first_of_status = slot == "status" and status not in seen_status
        seen_status.add(status)
        if drop and entry["type"] == NEWS and not first_of_status:
            drop -= 1
            continue
        kept.append(entry)
    history[slot] = kept


def _bound_news_slots(history: History) -> None:
    """Keep the ``NEWS_SLOTS_KEPT`` latest slots of each kind that news alone opened."""
    for prefix in _NEWS_SLOT_KINDS:
        opened = [s for s, entries in history.items()
                  if s.startswith(prefix) and all(e["type"] == NEWS for e in entries)]
        if len(opened) <= NEWS_SLOTS_KEPT:
            continue
        opened.sort(key=lambda s: history[s][-1]["position"], reverse=True)
        for slot in opened[NEWS_SLOTS_KEPT:]:
            del history[slot]


def _latest_slot(history: History, prefix: str,
                 accept: Callable[[dict[str, Any]], bool]) -> str | None:
    best: tuple[int, str] | None = None
    for slot, entries in history.items():
        if slot.startswith(prefix) and entries and accept(entries[-1]):
            pos = entries[-1]["position"]
            if best is None or pos > best[0]:
                best = (pos, slot)
    return best[1] if best else None


def _update(history: History, slot: str, event: RecordedEvent, base: dict[str, Any],
            changes: Mapping[str, Any]) -> None:
    """Supersede ``slot`` with its current value plus ``changes``, cited to ``event`` first."""
    entries = history.get(slot)
    previous = entries[-1] if entries else None
    value = dict(previous["value"]) if previous else dict(base)
    value.update({k: v for k, v in changes.items() if v is not None})
    sources = [provenance(event)]
    if previous:
        sources += [s for s in previous["sources"] if s["position"] != event.position]
    _push(history, slot, assertion(event, value, _bound_sources(sources)))


def _as_mapping(value: Any, scalar_key: str) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {scalar_key: value}


def _story_title(event: RecordedEvent) -> str:
    citation = citation_of(event)
    return str(citation.get("title") or event.data.get("story_id") or "a news story")


def _apply_tariff(history: History, event: RecordedEvent, raw: dict[str, Any]) -> None:
    story = str(event.data.get("story_id"))
    value = _number(raw.get("value", raw.get("rate", raw.get("percent"))))
    measure = raw.get("measure_id")
    if measure is not None:
        slot = f"context:{measure}"
        if slot not in history:
            slot = f"context:news-tariff-{slug(measure)}"
    else:
        slot = (_latest_slot(history, "context:",
                             lambda e: e["value"].get("thread") == "tariffs")
                or f"context:news-tariff-{slug(story)}")
    measure_id = slot.removeprefix("context:")
    base = {"thread": "tariffs", "measure_id": measure_id,
            "title": raw.get("title") or f"Tariff reported in: {_story_title(event)}"}
    _update(history, slot, event, base, {
        "value": value if value is not None else raw.get("value", raw.get("rate")),
        "unit": raw.get("unit") or ("percent" if value is not None else None),
        "target": raw.get("target"), "imposer": raw.get("imposer"),
        "since": raw.get("since"), "reported_in": story,
    })


def _apply_export_control(history: History, event: RecordedEvent, raw: dict[str, Any]) -> None:
    story = str(event.data.get("story_id"))
    measure = raw.get("measure_id")
    slot = f"context:{measure}" if measure is not None else ""
    if slot not in history:
        slot = f"context:news-export-control-{slug(measure if measure is not None else story)}"
    base = {"thread": "export_controls", "measure_id": slot.removeprefix("context:"),
            "title": raw.get("title") or f"Export control reported in: {_story_title(event)}"}
    _update(history, slot, event, base, {
        "summary": raw.get("summary") or raw.get("description"),
        "target": raw.get("target") or raw.get("item"), "imposer": raw.get("imposer"),
        "affected": raw.get("affected"), "since": raw.get("since"), "reported_in": story,
    })


def _apply_project_count(history: History, event: RecordedEvent, raw: dict[str, Any]) -> None:
    story = str(event.data.get("story_id"))
    count = _number(raw.get("count", raw.get("project_count", raw.get("value"))))
    wanted = raw.get("agreement_id")
    if wanted is not None:
        slot = f"agreement:{wanted}"
    else:
        slot = (_latest_slot(history, "agreement:",
                             lambda e: e["value"].get("project_count") is not None)
                or f"agreement:news-{slug(story)}")
    base = {"agreement_id": slot.removeprefix("agreement:"),
            "title": raw.get("title") or f"Projects reported in: {_story_title(event)}"}
    _update(history, slot, event, base, {
        "project_count": count,
        "count_qualifier": raw.get("qualifier") or raw.get("count_qualifier") or "exactly",
        "sectors": raw.get("sectors"), "reported_in": story,
    })


def _apply_listing(history: History, event: RecordedEvent, raw: dict[str, Any]) -> None:
    story = str(event.data.get("story_id"))
    company = raw.get("company") or raw.get("name")
    slot = f"listing:{slug(company) if company else slug(story)}"
    base = {"listing_id": slot.removeprefix("listing:")}
    _update(history, slot, event, base, {**raw, "reported_in": story})


def _apply_mechanism_status(history: History, event: RecordedEvent, raw: Any) -> None:
    text = raw.get("status") if isinstance(raw, Mapping) else raw
    story = str(event.data.get("story_id"))
    _push(history, "fact:mechanism_status", assertion(
        event, {"value": text, "note": f"reported in {_story_title(event)}",
                "reported_in": story}))
    lifecycle = MECHANISM_STATUS.get(slug(text).replace("-", "_")) if text else None
    if lifecycle in STATUSES:
        _push(history, "status", assertion(
            event, {"status": lifecycle, "note": f"news reports it {text}",
                    "reported_in": story}))


def _apply_extracted(history: History, event: RecordedEvent, data: dict[str, Any]) -> None:
    kind = data.get("kind")
    raw = data.get("value")
    _push(history, f"news:{event.position:012d}", assertion(event, {
        "story_id": data.get("story_id"), "kind": kind, "value": raw,
        "sentence": data.get("sentence"), "confidence": data.get("confidence")}))
    if kind == "tariff_rate":
        _apply_tariff(history, event, _as_mapping(raw, "value"))
    elif kind == "export_control":
        _apply_export_control(history, event, _as_mapping(raw, "summary"))
    elif kind == "project_count":
        _apply_project_count(history, event, _as_mapping(raw, "count"))
    elif kind == "listing":
        _apply_listing(history, event, _as_mapping(raw, "company"))
    elif kind == "mechanism_status":
        _apply_mechanism_status(history, event, raw)
    _prune(history, "news:", NEWS_FACTS_KEPT)
    touched = [s for s, entries in history.items() if entries[-1]["position"] == event.position]
    for slot in touched:
        _bound_slot(history, slot)
    if any(len(history[s]) == 1 and s.startswith(_NEWS_SLOT_KINDS) for s in touched):
        _bound_news_slots(history)  # news opened a slot


def _prune(history: History, prefix: str, keep: int) -> None:
    """Bound the slots under ``prefix`` to the ``keep`` most recently asserted."""
    found = [s for s in history if s.startswith(prefix)]
    if len(found) <= keep:
        return
    if len(found) == keep + 1:  # the usual case: one slot over
        del history[min(found, key=lambda s: history[s][-1]["position"])]
        return
    slots = sorted(found, key=lambda s: history[s][-1]["position"], reverse=True)
    for slot in slots[keep:]:
        del history[slot]


def _without_policy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "policy_id"}


def _fold(history: History, event: RecordedEvent) -> bool:
    """Record ``event`` in ``history``; False when it says nothing this projection keeps."""
    data = event_data(event)
    kind = event.type
    if kind == "policy.tracked":
        _push(history, "policy", assertion(event, _without_policy(data)))
    elif kind == "policy.status_changed":
        _push(history, "status", assertion(event, {"status": data.get("status"),
                                                   "note": data.get("note")}))
    elif kind == "policy.fact_asserted":
        _push(history, f"fact:{data['key']}", assertion(
            event, {"value": data.get("value"), "note": data.get("note")}))
    elif kind == "policy.party_added":
        _push(history, f"party:{data['actor_id']}", assertion(event, _without_policy(data)))
    elif kind == "milestone.recorded":
        _push(history, f"milestone:{data['milestone_id']}", assertion(event,
                                                                       _without_policy(data)))
    elif kind == "agreement.signed":
        _push(history, f"agreement:{data['agreement_id']}", assertion(event,
                                                                       _without_policy(data)))
    elif kind == "context.recorded":
        _push(history, f"context:{data['measure_id']}", assertion(event, _without_policy(data)))
    elif kind == "commentary.recorded":
        _push(history, f"commentary:{data['commentary_id']}", assertion(
            event, _without_policy(data)))
    elif kind == "question.opened":
        _push(history, f"question:{data['question_id']}", assertion(event,
                                                                     _without_policy(data)))
    elif kind == "question.resolved":
        _push(history, f"answer:{data['question_id']}", assertion(event, _without_policy(data)))
    elif kind == "outcome.expected":
        _push(history, f"outcome:{data['outcome_id']}", assertion(event, _without_policy(data)))
    elif kind == "story.created":
        _push(history, f"story:{data['story_id']}", assertion(event, {
            "story_id": data["story_id"], "title": data.get("title"), "url": data.get("url"),
            "published": data.get("published")}))
        _prune(history, "story:", STORIES_KEPT)
    elif kind == "fact.extracted":
        _apply_extracted(history, event, data)
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
                           "precision": _precision_of(str(fact["value"])),
                           "note": fact.get("note"), "sources": fact["sources"]}
    return dates


def _precision_of(text: str) -> str:
    if re.fullmatch(r"\d{4}", text):
        return "year"
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return "month"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return "day"
    return "instant"


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
        "superseded": [e["position"] for e in history[slot][:-1]],
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
        "status_history": [{"status": e["value"].get("status"), "note": e["value"].get("note"),
                            "occurred_at": e["occurred_at"], "precision": e["precision"],
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
        "history": history,
    }


#: Marks a document whose visible fields are not built yet; holds the event it was last folded.
_LAST = "_folded_until"


def _pending(policy_id: str, history: History, event: RecordedEvent) -> Doc:
    return {"policy_id": policy_id, "history": history, _LAST: event}


class PolicyState:
    """One document per policy: what is known about it now, and where each piece came from."""

    name = "policy_state"
    version = 2
    types: frozenset[str] = DOSSIER_TYPES | FOLLOW_UP_TYPES

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        if event.type not in self.types:
            return []
        policy_id = event.data.get("policy_id")
        return [str(policy_id)] if policy_id else []

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        return self.finish(self.evolve_deferred(doc, event))

    def evolve_deferred(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        """``evolve`` without building the visible document: the fold records what ``finish``
        needs, so a batch of events into one policy builds it once rather than per event."""
        if event.type == RETRACTED:
            target = retracted_position(event)
            if doc is None or target is None:
                return doc
            remaining = without_position(doc["history"], target)
            return _pending(doc["policy_id"], remaining, event) if remaining else None
        if event.type not in self.types:
            return doc
        policy_id = str(event.data.get("policy_id") or (doc or {}).get("policy_id") or "")
        if not policy_id:
            return doc
        # Shallow: _fold replaces the lists it changes and never edits an entry in place.
        history: History = dict(doc["history"]) if doc else {}
        if not _fold(history, event):
            return doc
        return _pending(policy_id, history, event)

    def finish(self, doc: Doc | None) -> Doc | None:
        """The visible document for a deferred one (others are returned as they are)."""
        if doc is None or _LAST not in doc:
            return doc
        return build(doc["policy_id"], doc["history"], doc[_LAST])

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{(doc.get('title') or '').lower()}\x1f{key}"
