"""Reports as Markdown for a briefing: one bullet per fact, the sources listed at the end.

Whatever a report took from the log is written through :mod:`tracker.render.mdsafe`, so feed
text reads as text and the only links are the ones written here, to http(s) URLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tracker import catalogue
from tracker.render import claims, explain, lists, mdsafe, tables, words
from tracker.render.facts import (
    EMPTY,
    UNTRACKED,
    Legend,
    diff_rows,
    fact_text,
    header,
    label,
    milestone_line,
    occurred,
    published_label,
    recorded,
    span_text,
    story_source,
    with_dating,
)
from tracker.render.kinds import Kind, Renderer, page

if TYPE_CHECKING:
    from tracker.catalogue import EventType

_SIGNS = {"+": "added", "~": "changed", "-": "withdrawn"}


_md = mdsafe.text


def _bullet(text: str, mark: str, head: str | None = None) -> str:
    lead = f"**{_md(head)}:** " if head else ""
    return f"- {lead}{_md(text)}" + (f" {mark}" if mark else "")


def _legend(legend: Legend) -> list[str]:
    rows = legend.lines(_md, mdsafe.autolink)
    if not rows:
        return []
    out = ["", "## Sources", "", "_[#N ¶P]: log position N, paragraph P of the source._", ""]
    out += [f"- {mdsafe.code(cid)} — {text}" for cid, text in rows]
    return out


def _seen(story: Mapping[str, Any]) -> str:
    """" (first seen 2025-05-01)" for a story whose feed gave no usable date, else ""."""
    day = published_label(story)
    return f" ({_md(day)})" if day.startswith("first seen") else ""


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", f"### {title}", "", *lines] if lines else []


def status(report: Mapping[str, Any]) -> str:
    legend = Legend()
    out = ["# Policy status", "", f"_{_md(header(report))}_"]
    for p in report.get("policies") or ():
        out += ["", f"## {_md(p.get('title') or UNTRACKED)}", "", mdsafe.code(p["id"]), ""]
        state = claims.status_line(p, "  ")
        out.append(_bullet(state, legend.note(p.get("status_sources") or ()), "Status"))
        for name, d in (p.get("dates") or {}).items():
            when = str(d["value"]) + (f" ({d['note']})" if d.get("note") else "")
            out.append(_bullet(when, legend.note(d["sources"]), name.capitalize()))
        for party in p.get("party_details") or ():
            role = f" — {party['role']}" if party.get("role") else ""
            out.append(_bullet(f"{party['name']}{role}", legend.note(party["sources"]),
                               "Party"))
        out.append(_bullet(recorded(p.get("updated_at")), "", "Updated"))
        out += _section("Facts", [
            _bullet(claims.fact_line(f, fact_text),
                    legend.note(f["sources"]), label(f["key"]))
            for f in p.get("facts") or ()])
        out += _section("Open questions", [_bullet(with_dating(q["text"], q),
                                                   legend.note(q["sources"]))
                                           for q in p.get("open_questions") or ()])
        out += _section("Answered questions", [
            _bullet(f"{q['text']} {q.get('answer')}", legend.note(q["sources"]))
            for q in p.get("resolved_questions") or ()])
        out += _section("Commentary", [
            _bullet(with_dating(f"{c.get('stance')}: {c.get('summary')}"
                                + (f" “{c['quote']}”" if c.get("quote") else "")
                                + (f" (via {c['via']})" if c.get("via") else ""), c),
                    legend.note(c["sources"]), c["actor"])
            for c in p.get("commentary") or ()])
        out += _section("Expected outcomes", [
            _bullet(with_dating(o["text"] + (f" ({', '.join(o['expected_by'])})"
                                             if o.get("expected_by") else ""), o),
                    legend.note(o["sources"]))
            for o in p.get("outcomes") or ()])
        out += _section("Milestones", [
            _bullet(with_dating(milestone_line(m), m, with_date=False), legend.note(m["sources"]),
                    occurred(m))
            for m in p.get("milestones") or ()])
        follow = p.get("follow_ups") or {}
        out += _section("Follow-ups", [
            f"- {mdsafe.link(s.get('title'), s.get('url'))}{_seen(s)} "
            f"{legend.note(story_source(s))}"
            for s in follow.get("stories") or ()])
    out += _legend(legend)
    return "\n".join(out) + "\n"


def timeline(report: Mapping[str, Any]) -> str:
    legend = Legend()
    span = span_text(report)
    count = words.plural(report.get("count", 0), "entry")
    out = ["# Timeline", "", f"_{_md(span)}, {count}_", ""]
    for e in report.get("entries") or ():
        src = [{"position": e["position"], "citation": e.get("source") or {}}]
        out.append(_bullet(with_dating(e.get("summary") or e.get("type") or "", e,
                                       with_date=False), legend.note(src),
                           occurred(e)))
    out += _legend(legend)
    return "\n".join(out) + "\n"


def diff(report: Mapping[str, Any]) -> str:
    legend = Legend()
    before, after = report.get("before") or {}, report.get("after") or {}
    out = ["# Changes", "", f"_{_md(header(before))} → {_md(header(after))}_"]
    if not report.get("policies"):
        out += ["", "No changes."]
    for p in report.get("policies") or ():
        out += ["", f"## {_md(p.get('title') or UNTRACKED)}", ""]
        out += [_bullet(text, mark, _SIGNS.get(left[:1], "") + left[1:])
                for left, text, mark in diff_rows(p, legend)]
    out += _legend(legend)
    return "\n".join(out) + "\n"


def catalogue_document(_event_types: Iterable[EventType]) -> str:
    """The catalogue's own Markdown, the text docs/events.md is generated from."""
    return catalogue.render_markdown()


#: Columns whose cells are links (to http(s) URLs only, else text).
_LINK_COLUMNS = frozenset({"url", "link", "links", "target"})


def _cell(column: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if column in _LINK_COLUMNS:
        values = value if isinstance(value, (list, tuple)) else [value]
        return ", ".join(mdsafe.autolink(v) for v in values)
    if isinstance(value, (list, tuple)):
        return ", ".join(_md(words.value(v, verbatim=True)) for v in value)
    return _md(words.value(value, verbatim=True))


def table(title: str, content: tables.Table, foot: str = "") -> str:
    """A list as a Markdown table under a heading: a row per record, every cell escaped."""
    columns, rows = content
    out = [f"# {title}", ""]
    if not rows:
        return "\n".join([*out, "None.", ""])
    out += ["| " + " | ".join(_md(c.replace("_", " ")) for c in columns) + " |",
            "| " + " | ".join("---" for _ in columns) + " |"]
    out += ["| " + " | ".join(_cell(c, v) for c, v in zip(columns, row, strict=True)) + " |"
            for row in rows]
    if foot:
        out += ["", f"_{_md(foot)}_"]
    return "\n".join(out) + "\n"


def _listing(title: str, kind: Kind, what: str | None = None) -> Renderer:
    build = tables.TABLES[kind]

    def render(report: Any) -> str:
        content = build(report)
        return table(title, content, words.plural(len(content[1]), what) if what else "")

    return render


RENDERERS: dict[Kind, Renderer] = {
    "status": page(status), "timeline": page(timeline), "diff": page(diff),
    "catalogue": page(catalogue_document), "claims": claims.markdown,
    "news": lists.news_markdown, "explain": explain.markdown,
    "feeds": _listing("Feeds", "feeds", "feed"),
    "feed_health": _listing("Feed health", "feed_health", "feed"),
    "sources": _listing("Publishers", "sources", "publisher"),
    "log": _listing("Log", "log", "event"),
    "rules": _listing("Relevance rules", "rules"),
    "ingest": _listing("Ingest", "ingest", "feed"),
    "verify": _listing("Verify", "verify"), "head": _listing("Head", "head"),
    "db": _listing("Database", "db"),
    "alerts": _listing("Alert channels", "alerts", "channel"),
}
