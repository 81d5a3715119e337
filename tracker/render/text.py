"""Reports and lists as text for a terminal: wrapped rows, each ending in its source marker."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from tracker.render import claims, explain, lists, rules
from tracker.render.facts import (
    EMPTY,
    UNTRACKED,
    Legend,
    Row,
    diff_rows,
    fact_text,
    header,
    label,
    milestone_line,
    published_label,
    story_source,
    with_dating,
)
from tracker.render.kinds import Kind, Renderer, page

WIDTH = 100
#: Keeps a marker such as ``[#12 ¶3]`` on one line when the row is wrapped.
_NBSP = "\u00a0"


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


def _section(title: str, rows: list[Row], indent: int = 2) -> list[str]:
    if not rows:
        return []
    width = min(max(len(r[0]) for r in rows), 22)
    out = ["", f"{' ' * indent}{title}"]
    for left, text, mark in rows:
        out += _row(left, text, mark, width, indent + 2)
    return out


def _legend(legend: Legend) -> list[str]:
    rows = legend.lines()
    if not rows:
        return []
    width = min(max(len(cid) for cid, _ in rows), 24)
    out = ["", "Sources  ([#N ¶P] = log position N, paragraph P of the source)"]
    for cid, text in rows:
        out += _row(cid, text, "", width)
    return out


def status(report: Mapping[str, Any]) -> str:
    legend = Legend()
    out = [f"Policy status ({header(report)})"]
    if not report.get("policies"):
        out.append("  no policies")
    for p in report.get("policies") or ():
        out += ["", f"{p.get('title') or UNTRACKED}  [{p['id']}]"]
        state = str(p.get("status") or EMPTY).replace("_", " ")
        if p.get("status_note"):
            state += f" ({p['status_note']})"
        state = with_dating(state, p.get("status_dating") or {})
        if claims.status_beside(p):
            state += f"  {claims.status_beside(p)}"
        head = [("status", state, legend.note(p.get("status_sources") or ()))]
        for name, d in (p.get("dates") or {}).items():
            when = str(d["value"]) + (f" ({d['note']})" if d.get("note") else "")
            head.append((name, when, legend.note(d["sources"])))
        for party in p.get("party_details") or ():
            role = f" — {party['role']}" if party.get("role") else ""
            head.append(("party", f"{party['name']}{role}", legend.note(party["sources"])))
        head.append(("updated", str(p.get("updated_at") or EMPTY), ""))
        width = max(len(r[0]) for r in head)
        for left, text, mark in head:
            out += _row(left, text, mark, width)
        out += _section("Facts", [(label(f["key"]), claims.fact_line(f, fact_text),
                                   legend.note(f["sources"])) for f in p.get("facts") or ()])
        out += _section("Open questions", [("?", with_dating(q["text"], q),
                                            legend.note(q["sources"]))
                                           for q in p.get("open_questions") or ()])
        out += _section("Answered", [("✓", f"{q['text']} {q.get('answer')}",
                                      legend.note(q["sources"]))
                                     for q in p.get("resolved_questions") or ()])
        out += _section("Commentary", [
            (c["actor"], with_dating(f"{c.get('stance')}: {c.get('summary')}"
                                     + (f" “{c['quote']}”" if c.get("quote") else "")
                                     + (f" (via {c['via']})" if c.get("via") else ""), c),
             legend.note(c["sources"]))
            for c in p.get("commentary") or ()])
        out += _section("Expected outcomes", [
            ("-", with_dating(o["text"] + (f" ({', '.join(o['expected_by'])})"
                                           if o.get("expected_by") else ""), o),
             legend.note(o["sources"]))
            for o in p.get("outcomes") or ()])
        out += _section("Milestones", [
            (str(m.get("occurred_at")), with_dating(milestone_line(m), m, with_date=False),
             legend.note(m["sources"]))
            for m in p.get("milestones") or ()])
        follow = p.get("follow_ups") or {}
        out += _section("Follow-ups", [
            (published_label(s) or EMPTY, str(s.get("title")),
             legend.note(story_source(s))) for s in follow.get("stories") or ()])
    out += _legend(legend)
    return "\n".join(out) + "\n"


def timeline(report: Mapping[str, Any]) -> str:
    legend = Legend()
    span = f"{report.get('since') or '…'} to {report.get('until') or '…'}"
    out = [f"Timeline ({span}, {report.get('count', 0)} entries)"]
    entries = report.get("entries") or []
    width = max((len(str(e.get("occurred_at"))) for e in entries), default=4)
    for e in entries:
        src = [{"position": e["position"], "citation": e.get("source") or {}}]
        out += _row(str(e.get("occurred_at")),
                    with_dating(e.get("summary") or e.get("type") or "", e, with_date=False),
                    legend.note(src), width)
    out += _legend(legend)
    return "\n".join(out) + "\n"


def diff(report: Mapping[str, Any]) -> str:
    legend = Legend()
    before, after = report.get("before") or {}, report.get("after") or {}
    out = [f"Changes ({header(before)}  →  {header(after)})"]
    if not report.get("policies"):
        out.append("  no changes")
    for p in report.get("policies") or ():
        out += ["", f"{p.get('title') or UNTRACKED}  [{p['id']}]"]
        rows = diff_rows(p, legend)
        width = min(max((len(r[0]) for r in rows), default=1), 26)
        for left, text, mark in rows:
            out += _row(left, text, mark, width)
    out += _legend(legend)
    return "\n".join(out) + "\n"


RENDERERS: dict[Kind, Renderer] = {
    "status": page(status), "timeline": page(timeline), "diff": page(diff),
    "news": lists.news_text, "feeds": lists.feeds_text, "feed_health": lists.health_text,
    "log": lists.log_text, "catalogue": lists.catalogue_text, "claims": claims.text,
    "sources": lists.sources_text, "rules": rules.text, "explain": explain.text,
}
