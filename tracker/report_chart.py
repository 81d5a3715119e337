"""The report site's timeline chart as data: a dossier's dated milestones, its context rates as
the steps they took in world time, and its stories per week, with the world-time span they
cover. Pure and JSON-ready; ``tracker.render.svg`` draws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from tracker.dates import iso, parse_date, period_end, read_instant, utc

_WEEK = timedelta(days=7)


def _instant(text: Any) -> datetime | None:
    """An ISO timestamp from the record, or None for anything else (a chart skips it)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return utc(read_instant(text))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _publications(sources: Iterable[Mapping[str, Any]]) -> list[str]:
    names = [str((s.get("citation") or {}).get("publication") or s.get("publisher") or "")
             for s in sources]
    return list(dict.fromkeys(n for n in names if n))


def rate_series(dossier_facts: Iterable[Mapping[str, Any]],
                claims: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each context rate (a slot with numbers, such as ``tariff:us:china``) as the steps it
    took in world time: the dossier's sourced values (``dossier_facts``: a policy's facts as
    the dossier set them) and every accepted claim on the slot (``claims``: claim rows),
    current or since superseded. An unsourced or unaccepted value is never a step."""
    series: dict[str, dict[str, Any]] = {}

    def add(slot: str, title: Any, unit: Any, step: dict[str, Any]) -> None:
        entry = series.setdefault(slot, {"slot": slot, "title": title or slot, "unit": None,
                                         "steps": []})
        entry["unit"] = entry["unit"] or unit or _unit(slot)
        entry["steps"].append(step)

    for fact in dossier_facts:
        value = fact.get("value")
        if not (str(fact.get("key")).startswith("context.") and isinstance(value, Mapping)):
            continue
        slot, number = value.get("slot"), _number(value.get("value"))
        at = _start_of(fact.get("occurred_at"), fact.get("precision"))
        if not slot or number is None or at is None or not fact.get("sources"):
            continue
        add(str(slot), value.get("title"), value.get("unit"), {
            "at": at, "label": fact.get("occurred_at"), "value": number,
            "qualifier": value.get("qualifier"), "sources": _publications(fact["sources"]),
            "position": max(int(s["position"]) for s in fact["sources"])})
    for claim in claims:
        slot = str(claim.get("slot"))
        number = _number(claim.get("value"))
        at = _start_of(claim.get("as_of"), claim.get("precision"))
        sources = list(claim.get("sources") or ())
        if claim.get("state") != "accepted" or number is None or at is None or not sources:
            continue
        if slot not in series and not slot.startswith(RATE_SLOTS):
            continue
        add(slot, series.get(slot, {}).get("title"), None, {
            "at": at, "label": claim.get("as_of"), "value": number, "qualifier": None,
            "sources": _publications(sources),
            "position": max(int(s["position"]) for s in sources)})
    out = []
    for entry in series.values():
        steps = _collapse(sorted(entry["steps"], key=lambda s: (s["at"], s["position"])))
        out.append({**entry, "steps": steps})
    return out


#: Claim slots that are rates even where the dossier records no context measure for them.
RATE_SLOTS: Final = ("tariff:",)


def _unit(slot: str) -> str | None:
    return "percent" if slot.startswith("tariff:") else None


def _period(label: Any, precision: Any) -> tuple[datetime, str] | None:
    """Where the period a date label names starts ("2025-04" → 1 April), and its precision;
    None for an undated or unreadable one (a chart cannot place it)."""
    if not isinstance(label, str) or precision in (None, "undated"):
        return None
    try:
        start, exact = parse_date(label)
    except ValueError:
        return None
    return None if exact == "undated" else (start, exact)


def _start_of(label: Any, precision: Any) -> str | None:
    """The start of the period a date label names, as ISO text; None where :func:`_period`
    finds none."""
    period = _period(label, precision)
    return None if period is None else iso(period[0])


def _collapse(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One step per world date (the one recorded last), and none that repeats the value
    before it (a second source for 145% is not a change)."""
    by_date: dict[str, dict[str, Any]] = {}
    for step in steps:
        by_date[step["at"]] = step
    out: list[dict[str, Any]] = []
    for step in by_date.values():
        if out and out[-1]["value"] == step["value"]:
            continue
        out.append(step)
    return out


def milestones(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dated milestones, in world order, numbered for the chart's key."""
    found = []
    for m in policy.get("milestones") or ():
        label, precision = m.get("occurred_at"), m.get("precision")
        period = _period(label, precision)
        if period is None:
            continue
        start, exact = period
        found.append({"title": m.get("title"), "kind": m.get("kind"), "label": label,
                      "precision": precision, "at": iso(start),
                      "until": iso(period_end(start, exact)),
                      "sources": _publications(m.get("sources") or ())})
    found.sort(key=lambda m: (m["at"], m["title"] or ""))
    return [{**m, "n": i} for i, m in enumerate(found, 1)]


def weekly_volume(stories: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stories per week (weeks start on Monday, UTC), by the day each was published."""
    days: dict[str, int] = {}
    for story in stories:
        published = story.get("published")
        if isinstance(published, str):
            day = published[:10]  # ISO text: the day is its first ten characters
            days[day] = days.get(day, 0) + 1
    counts: dict[datetime, int] = {}
    for day, count in days.items():
        when = _instant(day)
        if when is None:
            continue
        monday = when - timedelta(days=when.weekday())
        counts[monday] = counts.get(monday, 0) + count
    return [{"start": iso(week), "count": counts[week]} for week in sorted(counts)]


def chart(marks: list[dict[str, Any]], series: list[dict[str, Any]],
          weeks: list[dict[str, Any]], world_end: datetime | None = None) -> dict[str, Any]:
    """What the timeline chart draws, and the world-time span it covers: from the first thing
    dated to the last (a week on), or to the world-as-of date when one was asked for."""
    points = [_instant(m["at"]) for m in marks] + [_instant(m["until"]) for m in marks]
    points += [_instant(s["at"]) for line in series for s in line["steps"]]
    points += [_instant(w["start"]) for w in weeks]
    dated = [p for p in points if p is not None]
    if not dated:
        return {"start": None, "end": None, "milestones": marks, "series": series,
                "weeks": weeks}
    start, end = min(dated), max(dated) + _WEEK
    if world_end is not None and world_end > start:
        end = world_end
    return {"start": iso(start), "end": iso(end), "milestones": marks, "series": series,
            "weeks": weeks}
