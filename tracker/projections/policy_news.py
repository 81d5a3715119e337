"""What news follow-ups add to a policy's history, and how that stays bounded.

A fact extracted from a story is kept as itself (a ``news:`` slot) and, for the kinds that speak
to the dossier, as a new assertion on the slot it updates (a tariff measure, an agreement's
project count, a listing, the mechanism's status).

News arrives without end, so what it adds is bounded: each slot keeps every dossier assertion
but only its ``NEWS_PER_SLOT`` latest news ones (and, in ``status``, the first news assertion of
each status, which dates it); slots news alone opened are kept for the ``NEWS_SLOTS_KEPT`` latest
of each kind; a value's list of sources keeps its dossier sources and its ``NEWS_SOURCES_KEPT``
latest news ones. Retracting news therefore brings back what it had superseded as long as that
is among what is kept: only retracting more than ``NEWS_PER_SLOT`` news assertions of one slot
falls back past the older news to the dossier value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tracker.catalogue import FACT_EXTRACTED, STATUSES
from tracker.events import RecordedEvent
from tracker.projections.shared import History, assertion, citation_of, provenance, prune, push

#: How many extracted news facts a policy document keeps.
NEWS_FACTS_KEPT = 50
#: News assertions kept per slot, news-only slots kept per kind, news sources kept per value.
NEWS_PER_SLOT = 10
NEWS_SLOTS_KEPT = 20
NEWS_SOURCES_KEPT = 10
_NEWS_SLOT_KINDS = ("context:", "agreement:", "listing:")

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
    news = sum(1 for e in entries if e["type"] == FACT_EXTRACTED)
    if news <= NEWS_PER_SLOT:
        return
    drop = news - NEWS_PER_SLOT
    seen_status: set[Any] = set()
    kept = []
    for entry in entries:
        status = entry["value"].get("status") if slot == "status" else None
        first_of_status = slot == "status" and status not in seen_status
        seen_status.add(status)
        if drop and entry["type"] == FACT_EXTRACTED and not first_of_status:
            drop -= 1
            continue
        kept.append(entry)
    history[slot] = kept


def _bound_news_slots(history: History) -> None:
    """Keep the ``NEWS_SLOTS_KEPT`` latest slots of each kind that news alone opened."""
    for prefix in _NEWS_SLOT_KINDS:
        opened = [s for s, entries in history.items()
                  if s.startswith(prefix) and all(e["type"] == FACT_EXTRACTED for e in entries)]
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
    push(history, slot, assertion(event, value, _bound_sources(sources)))


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
    push(history, "fact:mechanism_status", assertion(
        event, {"value": text, "note": f"reported in {_story_title(event)}",
                "reported_in": story}))
    lifecycle = MECHANISM_STATUS.get(slug(text).replace("-", "_")) if text else None
    if lifecycle in STATUSES:
        push(history, "status", assertion(
            event, {"status": lifecycle, "note": f"news reports it {text}",
                    "reported_in": story}))


def fold_extracted(history: History, event: RecordedEvent, data: Mapping[str, Any]) -> None:
    """Record an extracted fact: the fact itself, and what it says of the policy."""
    kind = data.get("kind")
    raw = data.get("value")
    push(history, f"news:{event.position:012d}", assertion(event, {
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
    prune(history, "news:", NEWS_FACTS_KEPT)
    touched = [s for s, entries in history.items() if entries[-1]["position"] == event.position]
    for slot in touched:
        _bound_slot(history, slot)
    if any(len(history[s]) == 1 and s.startswith(_NEWS_SLOT_KINDS) for s in touched):
        _bound_news_slots(history)  # news opened a slot
