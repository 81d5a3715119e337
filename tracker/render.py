"""Reports as text for a terminal, Markdown for a briefing, or JSON for other tools.

Every fact carries a compact marker such as ``[#12 ¶3]``: the log position that asserted it and,
for a document source, the paragraph. A legend at the end names each source once, with the
positions that cite it, so a reader can check any line against the original.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

Kind = Literal["status", "timeline", "diff"]
Format = Literal["text", "json", "markdown"]

WIDTH = 100
_EMPTY = "—"
_NBSP = "\u00a0"
#: Parts of a changed value a diff line leaves out (shown elsewhere, or only bookkeeping).
_QUIET = frozenset({"title", "value", "unit", "occurred_at", "precision"})
_SIGNS = {"+": "added", "~": "changed", "-": "withdrawn"}
_LABELS = {
    "announced_venue": "announced venue", "announced_at": "announced", "hong_kong_role":
    "Hong Kong's role", "zhejiang_strength": "Zhejiang's strength", "mechanism_status":
    "mechanism status", "export_controls": "export controls", "trade_status": "trade status",
    "capital_flows": "capital flows",
}


# -- values and sources ------------------------------------------------------------------------

def label(key: str) -> str:
    """A fact key as a reader says it: ``context.tariffs.x`` is "tariffs"."""
    head, _, rest = key.partition(".")
    if head == "context":
        head = rest.partition(".")[0]
    return _LABELS.get(head, head.replace("_", " "))


def _amount(value: Any, unit: Any) -> str:
    if value is None:
        return ""
    if unit == "percent":
        return f"{value}%"
    return f"{value} {unit}" if unit else str(value)


def describe(key: str, value: Any) -> str:
    """One line for a fact's value, whatever its shape."""
    if value is None:
        return _EMPTY
    if isinstance(value, list):
        return ", ".join(describe(key, v) for v in value) or _EMPTY
    if not isinstance(value, Mapping):
        return str(value)
    if key.startswith("agreement."):
        count = value.get("project_count")
        parts = [str(value.get("title") or "agreement")]
        if count is not None:
            qualifier = str(value.get("count_qualifier") or "").replace("_", " ")
            if qualifier == "exactly":
                qualifier = ""
            parts.append(" ".join(w for w in (qualifier, str(count), "projects") if w))
        if value.get("sectors"):
            parts.append("sectors: " + ", ".join(map(str, value["sectors"])))
        return "; ".join(parts)
    if key.startswith("context."):
        line = str(value.get("title") or key)
        amount = _amount(value.get("value"), value.get("unit"))
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
    old_amount = _amount(before.get("value"), before.get("unit"))
    new_amount = _amount(after.get("value"), after.get("unit"))
    if old_amount != new_amount:
        moved.append(f"{old_amount or _EMPTY} → {new_amount or _EMPTY}")
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


class _Legend:
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

    def lines(self) -> list[tuple[str, str]]:
        out = []
        for cid, entry in self.sources.items():
            c = entry["citation"]
            bits = [str(c.get("publication") or "")] if c.get("publication") else []
            headline = c.get("headline") or c.get("title")
            if headline:
                bits.append(f"“{headline}”")
            if c.get("date"):
                bits.append(str(c["date"]))
            if c.get("document"):
                bits.append(str(c["document"]))
            if c.get("url"):
                bits.append(str(c["url"]))
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


# -- text ----------------------------------------------------------------------------------------

def _row(left: str, text: str, mark: str, left_width: int, indent: int = 2) -> list[str]:
    """A label column, wrapped text, and the source marker at the end of the last line."""
    pad = " " * indent
    hanging = " " * (indent + left_width + 2)
    lines: list[str] = []
    if len(left) > left_width:
        lines.append(f"{pad}{left}")
        first = hanging
    else:
        first = f"{pad}{left:<{left_width}}  "
    body = " ".join(text.split())
    if mark:
        body += " " + mark.replace(" ", _NBSP)
    wrapped = textwrap.wrap(body, width=WIDTH, initial_indent=first, subsequent_indent=hanging,
                            break_on_hyphens=False) or [first.rstrip()]
    return lines + [line.replace(_NBSP, " ") for line in wrapped]


def _section(title: str, rows: list[tuple[str, str, str]], indent: int = 2) -> list[str]:
    if not rows:
        return []
    width = min(max(len(r[0]) for r in rows), 22)
    out = ["", f"{' ' * indent}{title}"]
    for left, text, mark in rows:
        out += _row(left, text, mark, width, indent + 2)
    return out


def _header(report: Mapping[str, Any]) -> str:
    bits = [f"position {report.get('position')}"]
    bits.append(f"as of {report.get('as_of') or 'now'}")
    if report.get("world_as_of"):
        bits.append(f"world as of {report['world_as_of']}")
    return ", ".join(bits)


def _legend_text(legend: _Legend) -> list[str]:
    rows = legend.lines()
    if not rows:
        return []
    width = min(max(len(cid) for cid, _ in rows), 24)
    out = ["", "Sources  ([#N ¶P] = log position N, paragraph P of the source)"]
    for cid, text in rows:
        out += _row(cid, text, "", width)
    return out


def _status_text(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    out = [f"Policy status ({_header(report)})"]
    if not report.get("policies"):
        out.append("  no policies")
    for p in report.get("policies") or ():
        out += ["", f"{p.get('title') or _UNTRACKED}  [{p['id']}]"]
        status = str(p.get("status") or _EMPTY).replace("_", " ")
        if p.get("status_note"):
            status += f" ({p['status_note']})"
        head = [("status", status, legend.note(p.get("status_sources") or ()))]
        for name, d in (p.get("dates") or {}).items():
            when = str(d["value"]) + (f" ({d['note']})" if d.get("note") else "")
            head.append((name, when, legend.note(d["sources"])))
        for party in p.get("party_details") or ():
            role = f" — {party['role']}" if party.get("role") else ""
            head.append(("party", f"{party['name']}{role}", legend.note(party["sources"])))
        head.append(("updated", str(p.get("updated_at") or _EMPTY), ""))
        width = max(len(r[0]) for r in head)
        for left, text, mark in head:
            out += _row(left, text, mark, width)
        out += _section("Facts", [(label(f["key"]), describe(f["key"], f["value"]),
                                   legend.note(f["sources"])) for f in p.get("facts") or ()])
        out += _section("Open questions", [("?", q["text"], legend.note(q["sources"]))
                                           for q in p.get("open_questions") or ()])
        out += _section("Answered", [("✓", f"{q['text']} {q.get('answer')}",
                                      legend.note(q["sources"]))
                                     for q in p.get("resolved_questions") or ()])
        out += _section("Commentary", [
            (c["actor"], f"{c.get('stance')}: {c.get('summary')}"
             + (f" “{c['quote']}”" if c.get("quote") else "")
             + (f" (via {c['via']})" if c.get("via") else ""), legend.note(c["sources"]))
            for c in p.get("commentary") or ()])
        out += _section("Expected outcomes", [
            ("-", o["text"] + (f" ({', '.join(o['expected_by'])})" if o.get("expected_by")
                               else ""), legend.note(o["sources"]))
            for o in p.get("outcomes") or ()])
        out += _section("Milestones", [
            (str(m.get("occurred_at")), _milestone_line(m), legend.note(m["sources"]))
            for m in p.get("milestones") or ()])
        follow = p.get("follow_ups") or {}
        out += _section("Follow-ups", [
            (str(s.get("published") or "")[:10] or _EMPTY, str(s.get("title")),
             legend.note(_story_source(s))) for s in follow.get("stories") or ()])
    out += _legend_text(legend)
    return "\n".join(out) + "\n"


def _story_source(story: Mapping[str, Any]) -> list[dict[str, Any]]:
    citation = {k: story.get(k) for k in ("story_id", "title", "url")}
    return [{"position": story["position"], "citation": citation}]


def _milestone_line(m: Mapping[str, Any]) -> str:
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


def _timeline_text(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    span = f"{report.get('since') or '…'} to {report.get('until') or '…'}"
    out = [f"Timeline ({span}, {report.get('count', 0)} entries)"]
    entries = report.get("entries") or []
    width = max((len(str(e.get("occurred_at"))) for e in entries), default=4)
    for e in entries:
        src = [{"position": e["position"], "citation": e.get("source") or {}}]
        out += _row(str(e.get("occurred_at")), e.get("summary") or e.get("type") or "",
                    legend.note(src), width)
    out += _legend_text(legend)
    return "\n".join(out) + "\n"


_UNTRACKED = "(not yet tracked at this date)"


def _state(status: str | None) -> str:
    return status.replace("_", " ") if status else _EMPTY


def _diff_rows(p: Mapping[str, Any], legend: _Legend) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
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


def _diff_text(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    before, after = report.get("before") or {}, report.get("after") or {}
    out = [f"Changes ({_header(before)}  →  {_header(after)})"]
    if not report.get("policies"):
        out.append("  no changes")
    for p in report.get("policies") or ():
        out += ["", f"{p.get('title') or _UNTRACKED}  [{p['id']}]"]
        rows = _diff_rows(p, legend)
        width = min(max((len(r[0]) for r in rows), default=1), 26)
        for left, text, mark in rows:
            out += _row(left, text, mark, width)
    out += _legend_text(legend)
    return "\n".join(out) + "\n"


# -- markdown ----------------------------------------------------------------------------------

def _md(text: Any) -> str:
    return " ".join(str(text).replace("*", "\\*").replace("_", "\\_").split())


def _bullet(text: str, mark: str, head: str | None = None) -> str:
    lead = f"**{_md(head)}:** " if head else ""
    return f"- {lead}{_md(text)}" + (f" {mark}" if mark else "")


def _legend_md(legend: _Legend) -> list[str]:
    rows = legend.lines()
    if not rows:
        return []
    out = ["", "## Sources", "", "_[#N ¶P]: log position N, paragraph P of the source._", ""]
    out += [f"- `{cid}` — {_md(text)}" for cid, text in rows]
    return out


def _md_section(title: str, lines: list[str]) -> list[str]:
    return ["", f"### {title}", "", *lines] if lines else []


def _status_md(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    out = ["# Policy status", "", f"_{_md(_header(report))}_"]
    for p in report.get("policies") or ():
        out += ["", f"## {_md(p.get('title') or _UNTRACKED)}", "", f"`{p['id']}`", ""]
        status = str(p.get("status") or _EMPTY).replace("_", " ")
        if p.get("status_note"):
            status += f" ({p['status_note']})"
        out.append(_bullet(status, legend.note(p.get("status_sources") or ()), "Status"))
        for name, d in (p.get("dates") or {}).items():
            when = str(d["value"]) + (f" ({d['note']})" if d.get("note") else "")
            out.append(_bullet(when, legend.note(d["sources"]), name.capitalize()))
        for party in p.get("party_details") or ():
            role = f" — {party['role']}" if party.get("role") else ""
            out.append(_bullet(f"{party['name']}{role}", legend.note(party["sources"]),
                               "Party"))
        out.append(_bullet(str(p.get("updated_at") or _EMPTY), "", "Updated"))
        out += _md_section("Facts", [
            _bullet(describe(f["key"], f["value"]), legend.note(f["sources"]), label(f["key"]))
            for f in p.get("facts") or ()])
        out += _md_section("Open questions", [_bullet(q["text"], legend.note(q["sources"]))
                                              for q in p.get("open_questions") or ()])
        out += _md_section("Answered questions", [
            _bullet(f"{q['text']} {q.get('answer')}", legend.note(q["sources"]))
            for q in p.get("resolved_questions") or ()])
        out += _md_section("Commentary", [
            _bullet(f"{c.get('stance')}: {c.get('summary')}"
                    + (f" “{c['quote']}”" if c.get("quote") else "")
                    + (f" (via {c['via']})" if c.get("via") else ""),
                    legend.note(c["sources"]), c["actor"])
            for c in p.get("commentary") or ()])
        out += _md_section("Expected outcomes", [
            _bullet(o["text"] + (f" ({', '.join(o['expected_by'])})" if o.get("expected_by")
                                 else ""), legend.note(o["sources"]))
            for o in p.get("outcomes") or ()])
        out += _md_section("Milestones", [
            _bullet(_milestone_line(m), legend.note(m["sources"]), str(m.get("occurred_at")))
            for m in p.get("milestones") or ()])
        follow = p.get("follow_ups") or {}
        out += _md_section("Follow-ups", [
            f"- [{_md(s.get('title'))}]({s['url']}) {legend.note(_story_source(s))}"
            if s.get("url") else _bullet(str(s.get("title")), legend.note(_story_source(s)))
            for s in follow.get("stories") or ()])
    out += _legend_md(legend)
    return "\n".join(out) + "\n"


def _timeline_md(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    span = f"{report.get('since') or '…'} to {report.get('until') or '…'}"
    out = ["# Timeline", "", f"_{_md(span)}, {report.get('count', 0)} entries_", ""]
    for e in report.get("entries") or ():
        src = [{"position": e["position"], "citation": e.get("source") or {}}]
        out.append(_bullet(e.get("summary") or e.get("type") or "", legend.note(src),
                           str(e.get("occurred_at"))))
    out += _legend_md(legend)
    return "\n".join(out) + "\n"


def _diff_md(report: Mapping[str, Any]) -> str:
    legend = _Legend()
    before, after = report.get("before") or {}, report.get("after") or {}
    out = ["# Changes", "", f"_{_md(_header(before))} → {_md(_header(after))}_"]
    if not report.get("policies"):
        out += ["", "No changes."]
    for p in report.get("policies") or ():
        out += ["", f"## {_md(p.get('title') or _UNTRACKED)}", ""]
        out += [_bullet(text, mark, _SIGNS.get(left[:1], "") + left[1:])
                for left, text, mark in _diff_rows(p, legend)]
    out += _legend_md(legend)
    return "\n".join(out) + "\n"


_RENDERERS: dict[tuple[str, str], Callable[[Mapping[str, Any]], str]] = {
    ("status", "text"): _status_text, ("timeline", "text"): _timeline_text,
    ("diff", "text"): _diff_text, ("status", "markdown"): _status_md,
    ("timeline", "markdown"): _timeline_md, ("diff", "markdown"): _diff_md,
}


def render(report: Mapping[str, Any], kind: Kind, fmt: Format) -> str:
    """``report`` (from tracker.reports) as text, Markdown or JSON."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2) + "\n"
    try:
        return _RENDERERS[(kind, fmt)](report)
    except KeyError:
        raise ValueError(f"cannot render a {kind!r} report as {fmt!r}") from None
