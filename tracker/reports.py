"""Report values built from projection documents: plain JSON-ready dicts, no I/O.

The status report is a contract other tools read: top-level ``position``, ``as_of`` and
``policies``; each policy has ``id``, ``title``, ``status``, ``parties`` (names), ``facts``
(``{key, value, sources}``, plus ``note``), ``open_questions`` and ``updated_at``. Further keys
add detail and may grow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from tracker.claim_state import Settled, merge_into_report
from tracker.dates import UNDATED, on_calendar, parse_date, period_end, read_instant, utc
from tracker.projections.base import Doc

#: Keyed facts listed first, in this order; the rest follow in the order they were recorded.
FACT_ORDER = ("purpose", "announced_venue", "announced_at", "hong_kong_role", "zhejiang_strength",
              "sectors", "mechanism_status")
_CONTEXT_ORDER = ("tariffs", "export_controls", "trade_status", "capital_flows", "other")


def _name(actor_docs: Mapping[str, Doc], actor_id: Any) -> str:
    doc = actor_docs.get(str(actor_id)) if actor_id is not None else None
    return str((doc or {}).get("name") or actor_id)


def _names(actor_docs: Mapping[str, Doc], ids: Iterable[Any] | None) -> list[str]:
    return [_name(actor_docs, a) for a in ids or ()]


def _sources(value: Any) -> list[dict[str, Any]]:
    return [{"position": s["position"], "citation": dict(s.get("citation") or {})}
            for s in value or ()]


def _dating(entry: Mapping[str, Any] | None) -> dict[str, Any]:
    """When an entry happened in the world and how that is known: its date label and precision
    ("undated" for background without a date), the seed's note on the date, whether the date
    is an estimate, and whether the source states the entry (false: the seed infers it)."""
    entry = entry or {}
    return {"occurred_at": entry.get("occurred_at"), "precision": entry.get("precision"),
            "occurred_note": entry.get("occurred_note"),
            "estimated": bool(entry.get("estimated")), "stated": entry.get("stated") is not False}


def _fact(key: str, value: Any, sources: Any, note: Any = None,
          when: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"key": key, "value": value, "sources": _sources(sources), "note": note,
            **_dating(when)}


def _keyed_facts(doc: Doc) -> list[dict[str, Any]]:
    facts: Mapping[str, Any] = doc.get("facts") or {}
    ordered = [k for k in FACT_ORDER if k in facts] + [k for k in facts if k not in FACT_ORDER]
    return [_fact(k, facts[k]["value"], facts[k]["sources"], facts[k].get("note"), facts[k])
            for k in ordered]


def _agreement_facts(doc: Doc, actor_docs: Mapping[str, Doc]) -> list[dict[str, Any]]:
    out = []
    for a in doc.get("agreements") or ():
        value = {"title": a.get("title"), "project_count": a.get("project_count"),
                 "count_qualifier": a.get("count_qualifier"), "sectors": a.get("sectors") or [],
                 "signatories": _names(actor_docs, a.get("actor_ids"))}
        out.append(_fact(f"agreement.{a['agreement_id']}", value, a["sources"], when=a))
    return out


def _measure(m: Mapping[str, Any], actor_docs: Mapping[str, Doc]) -> dict[str, Any]:
    imposer = m.get("imposer")
    return {"title": m.get("title"), "value": m.get("value"), "unit": m.get("unit"),
            "qualifier": m.get("qualifier"), "slot": m.get("slot"), "since": m.get("since"),
            "imposer": _name(actor_docs, imposer) if imposer else None,
            "target": m.get("target"), "affected": m.get("affected"), "summary": m.get("summary"),
            "occurred_at": m.get("occurred_at"), "precision": m.get("precision")}


def _context_facts(doc: Doc, actor_docs: Mapping[str, Doc]) -> list[dict[str, Any]]:
    context: Mapping[str, list[dict[str, Any]]] = doc.get("context") or {}
    threads = [t for t in _CONTEXT_ORDER if t in context]
    threads += [t for t in context if t not in _CONTEXT_ORDER]
    return [_fact(f"context.{thread}.{m['measure_id']}", _measure(m, actor_docs), m["sources"],
                  when=m)
            for thread in threads for m in context[thread]]


def _listing_facts(doc: Doc) -> list[dict[str, Any]]:
    skip = {"occurred_at", "precision", "position", "sources", "listing_id"}
    return [_fact(f"listing.{item['listing_id']}",
                  {k: v for k, v in item.items() if k not in skip}, item["sources"])
            for item in doc.get("listings") or ()]


def policy_report(doc: Doc, actor_docs: Mapping[str, Doc]) -> dict[str, Any]:
    """One policy's entry in the status report."""
    parties = doc.get("parties") or []
    questions = doc.get("questions") or []
    return {
        "id": doc["policy_id"],
        "title": doc.get("title"),
        "status": doc.get("status"),
        "parties": [_name(actor_docs, p["actor_id"]) for p in parties],
        "facts": (_keyed_facts(doc) + _agreement_facts(doc, actor_docs)
                  + _context_facts(doc, actor_docs) + _listing_facts(doc)),
        "open_questions": [{"id": q["question_id"], "text": q.get("text"),
                            "sources": _sources(q["sources"]), **_dating(q)}
                           for q in questions if not q.get("resolved")],
        "updated_at": doc.get("updated_at"),
        "position": doc.get("position"),
        "summary": doc.get("summary"),
        "status_note": doc.get("status_note"),
        "status_sources": _sources(doc.get("status_sources")),
        "status_dating": _dating(doc.get("status_dating")) if doc.get("status_dating") else None,
        "dates": {name: {"value": d["value"], "precision": d["precision"], "note": d.get("note"),
                         "sources": _sources(d["sources"])}
                  for name, d in (doc.get("dates") or {}).items()},
        "party_details": [{"actor_id": p["actor_id"], "name": _name(actor_docs, p["actor_id"]),
                           "role": p.get("role"), "sources": _sources(p["sources"])}
                          for p in parties],
        "resolved_questions": [{"id": q["question_id"], "text": q.get("text"),
                                "answer": q.get("answer"),
                                "sources": _sources(q["answer_sources"])}
                               for q in questions if q.get("resolved")],
        "commentary": [{"id": c["commentary_id"], "actor_id": c["actor_id"],
                        "actor": _name(actor_docs, c["actor_id"]), "stance": c.get("stance"),
                        "summary": c.get("summary"), "quote": c.get("quote"),
                        "via": _name(actor_docs, c["via"]) if c.get("via") else None,
                        "sources": _sources(c["sources"]), **_dating(c)}
                       for c in doc.get("commentary") or ()],
        "outcomes": [{"id": o["outcome_id"], "text": o.get("text"),
                      "expected_by": _names(actor_docs, o.get("actor_ids")),
                      "sources": _sources(o["sources"]), **_dating(o)}
                     for o in doc.get("outcomes") or ()],
        "milestones": [{"id": m["milestone_id"], "kind": m.get("kind"), "title": m.get("title"),
                        "occurred_at": m.get("occurred_at"), "precision": m.get("precision"),
                        "location": m.get("location"), "duration_days": m.get("duration_days"),
                        "count": m.get("count"),
                        "led_by": _name(actor_docs, m["led_by"]) if m.get("led_by") else None,
                        "participants": _names(actor_docs, m.get("actor_ids")),
                        "sources": _sources(m["sources"]), **_dating(m)}
                       for m in doc.get("milestones") or ()],
        "stakeholders": [{"actor_id": a, "name": _name(actor_docs, a),
                          "kind": (actor_docs.get(a) or {}).get("kind")}
                         for a in doc.get("stakeholders") or ()],
        "follow_ups": {
            **_follow_up_stories(doc),
            "news_facts": [{"story_id": n.get("story_id"), "kind": n.get("kind"),
                            "value": n.get("value"), "sentence": n.get("sentence"),
                            "confidence": n.get("confidence"), "position": n["position"],
                            "sources": _sources(n["sources"])}
                           for n in doc.get("news_facts") or ()],
        },
    }


def _follow_up_stories(doc: Doc) -> dict[str, Any]:
    """The newest follow-up stories by publication date, and whether more exist: ``total``
    counts them while the document holds them all (null past ``STORIES_KEPT``: "at least")."""
    from tracker.projections.policy_state import STORIES_KEPT, STORIES_SHOWN
    from tracker.projections.shared import current, item

    history = doc.get("history")
    live = ([item(e) for _s, e in current(history, "story:")] if isinstance(history, dict)
            else list(doc.get("stories") or ()))
    live.sort(key=lambda s: (str(s.get("published") or ""), s.get("position") or 0),
              reverse=True)
    shown = live[:STORIES_SHOWN]
    return {
        "stories": [{k: s.get(k) for k in ("story_id", "title", "url", "published",
                                           "published_source", "position")} for s in shown],
        "shown": len(shown),
        "total": len(live) if len(live) < STORIES_KEPT else None,
        "more": len(live) > len(shown),
    }


def status_report(policy_docs: list[Doc], actor_docs: dict[str, Doc], *, position: int,
                  as_of: str | None, world_as_of: str | None,
                  settled: Mapping[str, Settled] | None = None) -> dict[str, Any]:
    """What is known about each policy, each fact with the log positions it rests on, the
    state taken from accepted claims (``settled``, by policy id)."""
    policies = []
    for doc in policy_docs:
        report = policy_report(doc, actor_docs)
        found = (settled or {}).get(doc["policy_id"])
        if found is not None:
            report = merge_into_report(report, doc, found)
        policies.append(report)
    return {
        "position": position,
        "as_of": as_of,
        "world_as_of": world_as_of,
        "policies": policies,
    }


def _period(text: str | None, *, end: bool) -> datetime | None:
    """The start (or the end) of the period an ISO year, month, day or instant names."""
    if not text:
        return None
    start, precision = parse_date(text)
    return utc(period_end(start, precision) if end else start)


def _instant(text: Any, precision: str, zone: tzinfo) -> datetime | None:
    """A timeline entry's ISO start or end as the instant it is for a reader in ``zone``."""
    return on_calendar(read_instant(str(text)), precision, zone) if text else None


#: How far a date read on a zone's calendar moves from UTC (offsets are under a day), with a
#: day more for the time of day a date-only bound leaves off.
_ZONE_SLACK = timedelta(days=2)
#: The longest period a dated entry names: a leap year.
_LONGEST_PERIOD = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class TimelineBounds:
    """Date-only text bounds on timeline sort keys (``occurred_start`` first) and ends, loose
    enough that every entry :func:`timeline_report` keeps for a window is within them, in any
    zone: starts from ``lower`` to before ``upper``, or from ``reach`` when the entry's
    ``occurred_until`` is at least ``lower``. None: no bound."""

    lower: str | None
    upper: str | None
    reach: str | None


def timeline_bounds(since: str | None, until: str | None) -> TimelineBounds:
    """The bounds the timeline is read within for ``since``..``until`` (see
    :func:`timeline_report`); the report's own check then keeps exactly what it keeps."""
    lower, upper = _period(since, end=False), _period(until, end=True)
    return TimelineBounds(
        _day(lower, -_ZONE_SLACK), _day(upper, _ZONE_SLACK),
        _day(lower, -(_LONGEST_PERIOD + _ZONE_SLACK)))


def _day(at: datetime | None, shift: timedelta) -> str | None:
    """``at`` moved by ``shift``, as its ISO date (a prefix of every ISO instant that day);
    None when unbounded or outside the years a datetime holds."""
    if at is None:
        return None
    try:
        day = at + shift
    except OverflowError:
        return None
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def timeline_report(entries: Sequence[Doc], since: str | None,
                    until: str | None, zone: tzinfo | None = None) -> dict[str, Any]:
    """Timeline entries whose period overlaps ``since``..``until`` (both named periods included).

    An entry known only to the month, such as "2025-04", is kept for ``since`` "2025-04-20".
    Entries dated to a day, month or year are read on the calendar of ``zone`` (default UTC):
    April ends at midnight on 1 May there. Undated entries are left out by ``since`` (nothing
    places them after a date) and kept, first, by ``until``.
    """
    lower = _period(since, end=False)
    upper = _period(until, end=True)
    zone = zone or UTC
    kept = []
    for entry in entries:
        precision = str(entry.get("precision") or "instant")
        start = _instant(entry.get("occurred_start"), precision, zone)
        finish = _instant(entry.get("occurred_until"), precision, zone) or start
        if lower is not None and (precision == UNDATED or start is None or finish is None
                                  or (finish <= lower and start < lower)):
            continue
        if upper is not None and start is not None and start >= upper:
            continue
        kept.append(entry)
    kept.sort(key=lambda e: (e.get("occurred_start") or "", e.get("position") or 0))
    return {
        "since": since,
        "until": until,
        "count": len(kept),
        "entries": [{k: e.get(k) for k in ("position", "occurred_at", "precision", "type",
                                           "policy_id", "summary", "source", "occurred_note",
                                           "estimated", "stated", "corrects")}
                    for e in kept],
    }


def _facts_by_key(policy: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {f["key"]: f for f in policy.get("facts") or ()}


def _policy_diff(before: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None) -> dict[str, Any]:
    old = _facts_by_key(before or {})
    new = _facts_by_key(after or {})
    changed = [{"key": k, "before": old[k]["value"], "after": new[k]["value"],
                "sources": new[k]["sources"], "before_sources": old[k]["sources"]}
               for k in new if k in old and old[k]["value"] != new[k]["value"]]
    old_q = {q["id"]: q for q in (before or {}).get("open_questions") or ()}
    new_q = {q["id"]: q for q in (after or {}).get("open_questions") or ()}
    ref = after or before or {}
    old_status = (before or {}).get("status")
    new_status = (after or {}).get("status")
    return {
        "id": ref.get("id"),
        "title": (after or {}).get("title") or (before or {}).get("title"),
        "status": ({"before": old_status, "after": new_status,
                    "sources": (after or {}).get("status_sources") or []}
                   if old_status != new_status else None),
        "added": [dict(new[k]) for k in new if k not in old],
        "changed": changed,
        "retracted": [dict(old[k]) for k in old if k not in new],
        "questions_opened": [q for k, q in new_q.items() if k not in old_q],
        "questions_closed": [q for k, q in old_q.items() if k not in new_q],
    }


#: Which state of the log a report shows (the labels say the bounds in words).
_VIEW = ("position", "as_of", "world_as_of", "as_of_label", "world_as_of_label")


def diff_report(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed between two status reports: facts added, changed and withdrawn."""
    old = {p["id"]: p for p in before.get("policies") or ()}
    new = {p["id"]: p for p in after.get("policies") or ()}
    ids = list(new) + [i for i in old if i not in new]
    policies = []
    for pid in ids:
        diff = _policy_diff(old.get(pid), new.get(pid))
        if diff["status"] or any(diff[k] for k in ("added", "changed", "retracted",
                                                    "questions_opened", "questions_closed")):
            policies.append(diff)
    return {
        "before": {k: before.get(k) for k in _VIEW if k in before or "label" not in k},
        "after": {k: after.get(k) for k in _VIEW if k in after or "label" not in k},
        "added_policies": [i for i in new if i not in old],
        "removed_policies": [i for i in old if i not in new],
        "policies": policies,
    }
