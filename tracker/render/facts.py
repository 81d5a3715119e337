"""How facts and their sources read, whatever the format a report is rendered in.

Every fact carries a compact marker such as ``[#12 ¶3]``: the log position that asserted it and,
for a document source, the paragraph. A legend at the end names each source once, with the
positions that cite it, so a reader can check any line against the original.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tracker.render.words import bound
from tracker.zones import day_text, instant_text, when_text

EMPTY = "—"
#: The ``published_source`` of a story or item whose feed gave no usable date.
FIRST_SEEN = "first_seen"
UNTRACKED = "(not yet tracked at this date)"
#: Parts of a changed value a diff line leaves out (shown elsewhere, or only bookkeeping).
_QUIET = frozenset({"title", "value", "unit", "qualifier", "occurred_at", "precision"})
_LABELS = {
    "announced_venue": "announced venue", "announced_at": "announced", "hong_kong_role":
    "Hong Kong's role", "zhejiang_strength": "Zhejiang's strength", "mechanism_status":
    "mechanism status", "export_controls": "export controls", "trade_status": "trade status",
    "capital_flows": "capital flows",
}

#: A labelled line of a report: (label, text, source marker).
Row = tuple[str, str, str]


def label(key: str) -> str:
    """A fact key as a reader says it: ``context.tariffs.x`` is "tariffs"."""
    head, _, rest = key.partition(".")
    if head == "context":
        head = rest.partition(".")[0]
    return _LABELS.get(head, head.replace("_", " "))


def _amount(value: Any, unit: Any, qualifier: Any = None) -> str:
    """"145%", or "up to 145%" when the source gives the value as a bound."""
    if value is None:
        return ""
    lead = f"{words} " if (words := bound(qualifier)) else ""
    if unit == "percent":
        return f"{lead}{value}%"
    return f"{lead}{value} {unit}" if unit else f"{lead}{value}"


def occurred(entry: Mapping[str, Any]) -> str:
    """When an entry happened, as a reader sees it: a year, month or day as the record dates
    it ("2025-04"), "undated", or an instant in the zone times are shown in, without
    microseconds ("2025-05-03 07:00 HKT")."""
    return when_text(entry.get("occurred_at"), entry.get("precision")) or \
        str(entry.get("occurred_at"))


def recorded(value: Any) -> str:
    """A recorded time (``updated_at``, ``set_at``...) as a reader sees it; "—" when unset."""
    return when_text(value) or EMPTY


def dating(entry: Mapping[str, Any], with_date: bool = True) -> str:
    """How an entry is dated and sourced, when that needs saying, in parentheses:
    "(undated: why)", "(dated 2025-05, estimated: why)", "(dated 2025-04: late April)", "(the
    seed's inference, not stated as such in the source)"; "" for a plainly dated, stated
    entry. Without ``with_date`` (the date is shown beside it already) the date is left out."""
    note = str(entry.get("occurred_note") or "")
    estimated = bool(entry.get("estimated"))
    when = ""
    if entry.get("precision") == "undated":
        when = "undated" if with_date else ""
    elif with_date and (estimated or note):
        when = f"dated {occurred(entry)}" + (", estimated" if estimated else "")
    elif estimated:
        when = "estimated"
    parts = [": ".join(p for p in (when, note) if p)]
    if entry.get("stated") is False:
        parts.append("the seed's inference, not stated as such in the source")
    parts = [p for p in parts if p]
    return f"({'; '.join(parts)})" if parts else ""


def with_dating(text: str, entry: Mapping[str, Any], with_date: bool = True) -> str:
    """``text`` followed by its ``dating``, if any."""
    suffix = dating(entry, with_date)
    return f"{text} {suffix}" if suffix else text


def fact_text(fact: Mapping[str, Any]) -> str:
    """A status fact's line: its value, its note, how it is dated and whether it is stated."""
    text = describe(fact["key"], fact["value"])
    if fact.get("note"):
        text += f" — {fact['note']}"
    return with_dating(text, fact)


def describe(key: str, value: Any) -> str:
    """One line for a fact's value, whatever its shape."""
    if value is None:
        return EMPTY
    if isinstance(value, list):
        return ", ".join(describe(key, v) for v in value) or EMPTY
    if not isinstance(value, Mapping):
        return str(value)
    if key.startswith("agreement."):
        count = value.get("project_count")
        parts = [str(value.get("title") or "agreement")]
        if count is not None:
            parts.append(" ".join(w for w in (bound(value.get("count_qualifier")), str(count),
                                              "projects") if w))
        if value.get("sectors"):
            parts.append("sectors: " + ", ".join(map(str, value["sectors"])))
        return "; ".join(parts)
    if key.startswith("context."):
        line = str(value.get("title") or key)
        amount = _amount(value.get("value"), value.get("unit"), value.get("qualifier"))
        if amount:
            line += f": {amount}"
        extras = []
        if value.get("since"):
            extras.append(f"since {value['since']}")
        if value.get("imposer"):
            extras.append(f"by {value['imposer']}")
        if value.get("affected"):
            affected = value["affected"]
            extras.append("affects " + (", ".join(map(str, affected))
                                     if isinstance(affected, list) else str(affected)))
        return line + (f" ({'; '.join(extras)})" if extras else "")
    return "; ".join(f"{k.replace('_', ' ')}: {describe(k, v)}" for k, v in value.items()
                     if v not in (None, "", []))


def change(key: str, before: Any, after: Any) -> str:
    """Only what moved: "US tariffs …: 145% → 30%" rather than both values in full."""
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return f"{describe(key, before)} → {describe(key, after)}"
    moved = []
    old_amount = _amount(before.get("value"), before.get("unit"), before.get("qualifier"))
    new_amount = _amount(after.get("value"), after.get("unit"), after.get("qualifier"))
    if old_amount != new_amount:
        moved.append(f"{old_amount or EMPTY} → {new_amount or EMPTY}")
    for name in [*after, *(k for k in before if k not in after)]:
        if name in _QUIET or before.get(name) == after.get(name):
            continue
        moved.append(f"{name.replace('_', ' ')} {describe(name, before.get(name))} → "
                     f"{describe(name, after.get(name))}")
    title = after.get("title") or before.get("title") or label(key)
    return f"{title}: {'; '.join(moved) or 'restated'}"


def _citation_id(citation: Mapping[str, Any]) -> str:
    return str(citation.get("id") or citation.get("story_id") or citation.get("url") or "?")


def marker(sources: Iterable[Mapping[str, Any]]) -> str:
    """``[#12 ¶3, #40]``: positions, with a paragraph where the source has them."""
    parts = []
    for source in sources:
        paragraph = (source.get("citation") or {}).get("paragraph")
        parts.append(f"#{source['position']}" + (f" ¶{paragraph}" if paragraph else ""))
    return f"[{', '.join(parts)}]" if parts else ""


class Legend:
    """Collects the sources a report cites, in first-cited order."""

    def __init__(self) -> None:
        self.sources: dict[str, dict[str, Any]] = {}

    def note(self, sources: Iterable[Mapping[str, Any]]) -> str:
        sources = list(sources)
        for source in sources:
            citation = source.get("citation") or {}
            entry = self.sources.setdefault(_citation_id(citation),
                                            {"citation": dict(citation), "positions": set()})
            entry["positions"].add(int(source["position"]))
        return marker(sources)

    def lines(self, show: Callable[[Any], str] = str,
              show_url: Callable[[Any], str] = str) -> list[tuple[str, str]]:
        """(source id, what it is) per source; ``show`` and ``show_url`` write what the
        source says and its URL in the caller's format (Markdown escapes them)."""
        out = []
        for cid, entry in self.sources.items():
            c = entry["citation"]
            bits = [show(c["publication"])] if c.get("publication") else []
            headline = c.get("headline") or c.get("title")
            if headline:
                bits.append(f"“{show(headline)}”")
            if c.get("date"):  # with how it is known: "2025-05 (estimate: no dateline...)"
                bits.append(show(c["date"]) + (f" ({show(c['date_note'])})"
                                               if c.get("date_note") else ""))
            if c.get("document"):
                bits.append(show(c["document"]))
            if c.get("url"):
                bits.append(show_url(c["url"]))
            bits.append("cited at " + _ranges(sorted(entry["positions"])))
            out.append((cid, ", ".join(bits)))
        return out


def _ranges(positions: Sequence[int]) -> str:
    spans: list[list[int]] = []
    for p in positions:
        if spans and p == spans[-1][1] + 1:
            spans[-1][1] = p
        else:
            spans.append([p, p])
    return ", ".join(f"#{a}" if a == b else f"#{a}–#{b}" for a, b in spans)


def header(report: Mapping[str, Any]) -> str:
    """Which state of the log a report shows: its position and both time axes."""
    bits = [f"position {report.get('position')}"]
    bits.append(f"as of {report.get('as_of_label') or when_text(report.get('as_of')) or 'now'}")
    if report.get("world_as_of"):
        bits.append("world as of "
                    + (report.get("world_as_of_label") or when_text(report["world_as_of"])))
    return ", ".join(bits)


def span_text(report: Mapping[str, Any]) -> str:
    """The window a timeline shows: "start of 2025-04 (2025-04-01 00:00 HKT) to end of
    2025-05 (2025-05-31 23:59 HKT)", "…" for a side left open."""
    ends = [report.get(f"{side}_label") or report.get(side) or "…" for side in ("since", "until")]
    return f"{ends[0]} to {ends[1]}"


def published_label(entry: Mapping[str, Any], day_only: bool = True) -> str:
    """An item's or story's day, "2025-04-29" (its timestamp without ``day_only``); "first
    seen 2025-05-01" when its feed gave no usable date, so the day it was first fetched is
    never read as its publication date. The day and time are those of the zone times are
    shown in (``tracker.zones``), without microseconds."""
    published = str(entry.get("published") or "")
    try:
        day = (day_text(published) if day_only else instant_text(published)) \
            if published else ""
    except ValueError:  # not an ISO instant: shown as recorded
        day = published[:10 if day_only else None]
    if day and entry.get("published_source") == FIRST_SEEN:
        return f"first seen {day}"
    return day


def story_source(story: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A follow-up story cited like any other source."""
    citation = {k: story.get(k) for k in ("story_id", "title", "url")}
    return [{"position": story["position"], "citation": citation}]


def milestone_line(m: Mapping[str, Any]) -> str:
    extras = []
    if m.get("duration_days"):
        extras.append(f"{m['duration_days']} days")
    if m.get("count"):
        extras.append(f"{m['count']} sites")
    if m.get("location"):
        extras.append(str(m["location"]))
    if m.get("led_by"):
        extras.append(f"led by {m['led_by']}")
    tail = f" ({'; '.join(extras)})" if extras else ""
    return f"{m.get('kind')}: {m.get('title')}{tail}"


def _state(status: str | None) -> str:
    return status.replace("_", " ") if status else EMPTY


def diff_rows(p: Mapping[str, Any], legend: Legend) -> list[Row]:
    """A policy's changes, each row's label starting with its sign: + added, ~ changed, -."""
    rows: list[Row] = []
    if p.get("status"):
        s = p["status"]
        rows.append(("~ status", f"{_state(s['before'])} → {_state(s['after'])}",
                     legend.note(s.get("sources") or ())))
    for f in p.get("added") or ():
        rows.append((f"+ {label(f['key'])}", describe(f["key"], f["value"]),
                     legend.note(f["sources"])))
    for f in p.get("changed") or ():
        rows.append((f"~ {label(f['key'])}", change(f["key"], f["before"], f["after"]),
                     legend.note(f["sources"])))
    for f in p.get("retracted") or ():
        rows.append((f"- {label(f['key'])}", describe(f["key"], f["value"]) + " (withdrawn)",
                     legend.note(f["sources"])))
    for q in p.get("questions_opened") or ():
        rows.append(("+ question", q["text"], legend.note(q["sources"])))
    for q in p.get("questions_closed") or ():
        rows.append(("- question", q["text"], legend.note(q["sources"])))
    return rows
