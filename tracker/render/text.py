"""Reports and lists as text for a terminal: wrapped rows, each ending in its source marker.

Every renderer takes the report and a :class:`~tracker.render.terminal.Layout` (the width to
wrap at, whether styles are wanted). Rows are laid out in display columns, so CJK text (two
columns a character) wraps within the width as Latin text does. Values read as words
(:mod:`tracker.render.words`): never ``False``, ``None`` or a JSON object. Internal ids appear
only where a command takes them: a claim id to accept or reject, a story id to merge, split
or explain, each shortened to the shortest prefix that names it alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracker.render import claims, explain, lists, rules, words
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
    occurred,
    published_label,
    recorded,
    span_text,
    story_source,
    with_dating,
)
from tracker.render.kinds import Kind, TextRenderer
from tracker.render.terminal import (
    Column,
    Layout,
    cells,
    fit,
    heading,
    lines_out,
    pad,
    paragraph,
    row,
    table,
)
from tracker.render.words import plural
from tracker.zones import instant_text, when_text

if TYPE_CHECKING:
    from tracker.catalogue import EventType
    from tracker.events import RecordedEvent

#: The widest a label column grows before long labels go on a line of their own.
_LABEL_MAX = 22


def _section(title: str, rows: list[Row], layout: Layout, indent: int = 2) -> list[str]:
    if not rows:
        return []
    width = min(max(cells(r[0]) for r in rows), _LABEL_MAX)
    out = ["", *heading(title, layout, indent)]
    for left, text, mark in rows:
        out += row(left, text, mark, width, layout.width, indent + 2)
    return out


def _legend(legend: Legend, layout: Layout) -> list[str]:
    rows = legend.lines()
    if not rows:
        return []
    width = min(max(cells(cid) for cid, _ in rows), 24)
    out = ["", *heading("Sources  ([#N ¶P] = log position N, paragraph P of the source)",
                        layout)]
    for cid, text in rows:
        out += row(cid, text, "", width, layout.width)
    return out


def fold(lines: Iterable[str], layout: Layout, more: int = 4) -> list[str]:
    """Lines written for any width, each one too wide wrapped: its continuation lines
    indented ``more`` beyond the line's own indent."""
    out: list[str] = []
    for line in lines:
        if cells(line) <= layout.width:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        out += paragraph(line, layout.width, indent, indent + more)
    return out


# -- dossier reports ---------------------------------------------------------------------------

def _follow_ups(p: Mapping[str, Any], legend: Legend, layout: Layout) -> list[str]:
    follow = p.get("follow_ups") or {}
    stories = follow.get("stories") or []
    if not stories:
        return []
    title = "Follow-ups"
    total = follow.get("total")
    if follow.get("more"):
        hint = f"`tracker news --policy {p['id']}` lists all"
        title += (f" ({len(stories)} newest of {total}; {hint})" if total is not None
                  else f" ({len(stories)} newest of more than {len(stories)}; {hint})")
    return _section(title, [(published_label(s) or EMPTY, str(s.get("title") or EMPTY),
                             legend.note(story_source(s))) for s in stories], layout)


def status(report: Mapping[str, Any], layout: Layout) -> str:
    legend = Legend()
    out = heading(f"Policy status ({header(report)})", layout)
    if not report.get("policies"):
        out.append("  no policies")
    for p in report.get("policies") or ():
        out += ["", *heading(f"{p.get('title') or UNTRACKED}  [{p['id']}]", layout)]
        state = claims.status_line(p, "; ")
        head = [("status", state, legend.note(p.get("status_sources") or ()))]
        for name, d in (p.get("dates") or {}).items():
            when = str(d["value"]) + (f" ({d['note']})" if d.get("note") else "")
            head.append((name, when, legend.note(d["sources"])))
        for party in p.get("party_details") or ():
            role = f" — {party['role']}" if party.get("role") else ""
            head.append(("party", f"{party['name']}{role}", legend.note(party["sources"])))
        head.append(("updated", recorded(p.get("updated_at")), ""))
        width = max(cells(r[0]) for r in head)
        for left, text, mark in head:
            out += row(left, text, mark, width, layout.width)
        out += _section("Facts", [(label(f["key"]), claims.fact_line(f, fact_text),
                                   legend.note(f["sources"])) for f in p.get("facts") or ()],
                        layout)
        out += _section("Open questions", [("?", with_dating(q["text"], q),
                                            legend.note(q["sources"]))
                                           for q in p.get("open_questions") or ()], layout)
        out += _section("Answered", [("✓", f"{q['text']} {q.get('answer')}",
                                      legend.note(q["sources"]))
                                     for q in p.get("resolved_questions") or ()], layout)
        out += _section("Commentary", [
            (c["actor"], with_dating(f"{c.get('stance')}: {c.get('summary')}"
                                     + (f" “{c['quote']}”" if c.get("quote") else "")
                                     + (f" (via {c['via']})" if c.get("via") else ""), c),
             legend.note(c["sources"]))
            for c in p.get("commentary") or ()], layout)
        out += _section("Expected outcomes", [
            ("-", with_dating(o["text"] + (f" ({', '.join(o['expected_by'])})"
                                           if o.get("expected_by") else ""), o),
             legend.note(o["sources"]))
            for o in p.get("outcomes") or ()], layout)
        out += _section("Milestones", [
            (occurred(m), with_dating(milestone_line(m), m, with_date=False),
             legend.note(m["sources"]))
            for m in p.get("milestones") or ()], layout)
        out += _follow_ups(p, legend, layout)
    out += _legend(legend, layout)
    return lines_out(out) + "\n"


def timeline(report: Mapping[str, Any], layout: Layout) -> str:
    legend = Legend()
    span = span_text(report)
    out = heading(f"Timeline ({span}, {plural(report.get('count', 0), 'entry')})", layout)
    entries = report.get("entries") or []
    width = min(max((cells(occurred(e)) for e in entries), default=4),
                _LABEL_MAX)
    for e in entries:
        src = [{"position": e["position"], "citation": e.get("source") or {}}]
        out += row(occurred(e),
                   with_dating(e.get("summary") or e.get("type") or "", e, with_date=False),
                   legend.note(src), width, layout.width)
    out += _legend(legend, layout)
    return lines_out(out) + "\n"


def diff(report: Mapping[str, Any], layout: Layout) -> str:
    legend = Legend()
    before, after = report.get("before") or {}, report.get("after") or {}
    out = heading(f"Changes ({header(before)}  →  {header(after)})", layout)
    if not report.get("policies"):
        out.append("  no changes")
    for p in report.get("policies") or ():
        out += ["", *heading(f"{p.get('title') or UNTRACKED}  [{p['id']}]", layout)]
        rows = diff_rows(p, legend)
        width = min(max((cells(r[0]) for r in rows), default=1), 26)
        for left, text, mark in rows:
            out += row(left, text, mark, width, layout.width)
    out += _legend(legend, layout)
    return lines_out(out) + "\n"


# -- news and claims ---------------------------------------------------------------------------

def _news_scope(report: Mapping[str, Any]) -> str:
    bits = []
    if report.get("since"):
        bits.append(f"since {report.get('since_label') or when_text(report['since'])}")
    if report.get("until"):
        bits.append(f"until {report.get('until_label') or when_text(report['until'])}")
    if report.get("feed"):
        bits.append(f"from feed {report['feed']}")
    if report.get("policy"):
        bits.append(f"about {report['policy']}")
    return " ".join(bits)


def news_count(report: Mapping[str, Any]) -> str:
    """``12 stories``, or ``10 of 400 stories (--limit to see more)``."""
    return words.of_total(int(report.get("count") or 0),
                          int(report.get("total", report.get("count")) or 0), "story",
                          "--limit to see more")


def news(report: Mapping[str, Any], layout: Layout) -> str:
    scope = _news_scope(report)
    if not report["stories"]:
        return "no stories" + (f" {scope}" if scope else "") + "\n"
    out = heading(f"News: {news_count(report)}" + (f" {scope}" if scope else ""), layout)
    width = max(cells(published_label(s)) for s in report["stories"])
    width = min(max(width, 10), _LABEL_MAX)
    for story in report["stories"]:
        out.append("")
        out += row(published_label(story) or EMPTY, str(story.get("title") or "(untitled)"),
                   f"[{story.get('short_id') or story['id']}]", width, layout.width, 0, 2)
        more: list[Row] = [("", f"score {story['score']}: {', '.join(story['matched'])}", "")]
        for source in story["sources"]:
            more.append(("", f"- {source['feed']}: {source['link'] or '(no link)'}",
                         f"[#{source['position']}]"))
        for fact in story["facts"]:
            more.append(("", f"* {words.words(fact['kind'])}: "
                             f"{words.fact(fact['kind'], fact['value'])} "
                             f"(confidence {words.number(fact['confidence'])})",
                         f"[#{fact['position']}]"))
        for left, text, mark in more:
            out += row(left, text, mark, width, layout.width, 0, 2)
    return lines_out(out)


def claims_text(report: Mapping[str, Any], layout: Layout) -> str:
    return lines_out(fold(claims.text(report).splitlines(), layout))


def explain_text(report: Mapping[str, Any], layout: Layout) -> str:
    return lines_out(fold(explain.text(report).splitlines(), layout))


# -- lists -------------------------------------------------------------------------------------

def feeds(subscriptions: Iterable[lists.Subscription], layout: Layout) -> str:
    subs = lists.feed_records(subscriptions)
    if not subs:
        return "no feeds followed\n"
    rows = [(s["name"], lists.interval(s["every_seconds"]), ", ".join(s["tags"]) or EMPTY,
             s["url"]) for s in subs]
    columns = [Column("feed", wrap=False, min_width=min(max(cells(r[0]) for r in rows), 24)),
               Column("every", justify="right", wrap=False),
               Column("tags", width=min(max(cells(r[2]) for r in rows), 20, layout.width // 5)),
               Column("url")]
    return lines_out([*table(columns, rows, layout), "", plural(len(subs), "feed")])


def feed_health(health: Iterable[lists.Recordable], layout: Layout) -> str:
    """A row per feed; then each feed's last error, with when it happened (errors are long:
    a column of them would leave the table no room)."""
    recs = lists.records(health)
    if not recs:
        return "no feeds followed\n"
    rows = [(r["name"], when_text(r["last_success"]) or "never", str(r["consecutive_failures"]),
             when_text(r["next_attempt"]) or EMPTY, str(r["items_recorded"])) for r in recs]
    columns = [Column("feed", wrap=False, min_width=min(max(cells(r[0]) for r in rows), 24)),
               Column("last success"), Column("fails", justify="right"),
               Column("next attempt"), Column("items", justify="right")]
    out = table(columns, rows, layout)
    errors = [r for r in recs if r.get("last_error")]
    if errors:
        width = min(max(cells(r["name"]) for r in errors), _LABEL_MAX)
        out += ["", *heading("Last errors", layout)]
        for r in errors:
            when = when_text(r.get("last_error_at")) if r.get("last_error_at") else ""
            out += row(r["name"], r["last_error"] + (f" ({when})" if when else ""), "",
                       width, layout.width)
    failing = sum(1 for r in recs if r["consecutive_failures"])
    foot = plural(len(recs), "feed") + (f", {failing} failing" if failing else "")
    return lines_out([*out, "", foot])


def sources(report: Mapping[str, Any], layout: Layout) -> str:
    """Publishers, strongest tier first: the tier in force, who set it, their feeds."""
    recs = report["publishers"]
    if not recs:
        return "no publishers\n"
    rows = []
    for r in recs:
        positions = " ".join(f"#{s['position']}" for s in r["sources"])
        remarks = [f"note: {r['note']}"] if r.get("note") else []
        if r["tier_set_by"] == "analyst" and r.get("tier_given") not in (None, r["tier"]):
            remarks.append(f"its sources give {r['tier_given']}")
        feeds_text = ", ".join(r["feeds"]) or EMPTY
        if remarks:
            feeds_text += f" ({'; '.join(remarks)})"
        rows.append((r["publisher"], r["tier"], f"{r['tier_set_by']} {positions}".strip(),
                     feeds_text))
    columns = [Column("publisher"), Column("tier"), Column("set by"), Column("feeds")]
    return lines_out([*table(columns, rows, layout), "", plural(len(recs), "publisher")])


def _brief(data: Any) -> str:
    """An event's data as ``key: value`` pairs, values as words."""
    if not isinstance(data, Mapping):
        return words.value(data)
    return "; ".join(
        f"{k}: {_brief(v) if isinstance(v, Mapping) else words.value(v, verbatim=True)}"
        for k, v in data.items() if v not in (None, "", [], {}))


def log_lines(events: Iterable[RecordedEvent], layout: Layout) -> str:
    """One line an event, cut to the width (``--format jsonl`` has everything): position,
    when it was recorded, type, stream and the start of its data."""
    out = []
    for event in events:
        line = (f"{event.position:>7}  {instant_text(event.recorded_at, seconds=True)}  "
                f"{event.type:<24} "
                f"{event.stream_id}  {_brief(event.data)}")
        out.append(fit(line, layout.width))
    return lines_out(out)


def catalogue(event_types: Iterable[EventType], layout: Layout) -> str:
    lines = []
    for et in event_types:
        lines += paragraph(f"{et.name} v{et.version}: {et.summary}", layout.width, 0, 4)
        width = max((len(n) for n in et.fields), default=0)
        for name, meaning in et.fields.items():
            flag = "*" if name in et.required else " "
            lines += row(f"{flag} {name}", meaning, "", min(width + 2, 22), layout.width, 3)
    return lines_out([*lines, "", "* = required"])


def rules_text(report: Mapping[str, Any], layout: Layout) -> str:
    return lines_out(fold(rules.text(report).splitlines(), layout))


def ingest_line(feed: Mapping[str, Any]) -> str:
    """One feed's part of an ingest pass."""
    name, state = feed["name"], feed["status"]
    if state == "failed":
        return f"{name}: FAILED {feed.get('message') or 'unknown error'}"
    if state == "busy":
        return f"{name}: busy: {feed.get('message')}"
    if state == "not_modified":
        return f"{name}: not modified"
    parts = [plural(feed["items"], "new item"), plural(feed["stories"], "new story"),
             plural(feed["corroborations"], "corroboration"),
             plural(feed["revisions"], "revision"), plural(feed["facts"], "fact")]
    prefix = "would record " if state == "dry_run" else ""
    warn = f" (warning: {feed['message']})" if feed.get("message") else ""
    return f"{name}: {prefix}{', '.join(parts)}{warn}"


def ingest_summary(report: Mapping[str, Any]) -> str:
    busy = f", {report['busy']} busy" if report.get("busy") else ""
    return (f"ingest: {plural(report['polled'], 'feed')} polled, {report['failed']} failed, "
            f"{report['not_due']} not due{busy}; {plural(report['items'], 'new item')}, "
            f"{plural(report['stories'], 'new story')}")


def ingest(report: Mapping[str, Any], _layout: Layout) -> str:
    """A line per feed polled (failed ones are the command's to print on stderr), then the
    summary line."""
    lines = [ingest_line(f) for f in report.get("feeds") or () if f["status"] != "failed"]
    return lines_out([*lines, ingest_summary(report)])


def verify(report: Mapping[str, Any], _layout: Layout) -> str:
    """One line, never wrapped (a result to grep for, like ingest's lines and db's)."""
    if report["ok"]:
        against = report.get("against")
        holds = (f"; holds the saved head (position {against['position']})" if against
                 else "")
        line = f"ok: {plural(report['checked'], 'event')}, hash chain intact{holds}"
    elif report.get("first_bad_position") is None:
        line = f"broken: {report['reason']}"
    else:
        line = (f"broken at position {report['first_bad_position']}: {report['reason']} "
                f"({plural(report['checked'], 'event')} before it are intact)")
    return line + "\n"


def head(report: Mapping[str, Any], _layout: Layout) -> str:
    """One line, never wrapped: it is kept and read back by ``verify --against``."""
    return (f"position {report['position']} hash {report['hash']} recorded_at "
            f"{report.get('recorded_at') or '-'}\n")


def db(report: Mapping[str, Any], _layout: Layout) -> str:
    state = ("up to date" if report["up_to_date"]
             else "behind: run `tracker db upgrade`")
    return (f"{report['database']}: revision {report['revision'] or 'none'} "
            f"(newest {report['newest']}, {state})\n")


def alerts(channels: Sequence[Mapping[str, Any]], layout: Layout) -> str:
    """A channel a block: its name, kind and target, then what it is sent and received."""
    if not channels:
        return "no alert channels (add one with `tracker alerts add`)\n"
    from tracker.alerts.changes import KINDS  # loaded already by the alerts commands

    out: list[str] = []
    for r in channels:
        on = "all changes" if not r.get("on") or tuple(r["on"]) == KINDS else ", ".join(r["on"])
        policy = f"policy {r['policy_id']}" if r.get("policy_id") else "every policy"
        detail = (f"on {on}; {policy}; after position {r['since']}: {r['delivered']} "
                  f"delivered, {r['pending']} pending")
        if r.get("last_failure"):
            detail += f"; last failure {r['last_failure_at']}: {r['last_failure']}"
        out += paragraph(f"{r['name']}  {r['kind']}  {r['target']}", layout.width, 0, 4)
        out += paragraph(detail, layout.width, 4)
    return lines_out([*out, "", plural(len(channels), "channel")])


RENDERERS: dict[Kind, TextRenderer] = {
    "status": status, "timeline": timeline, "diff": diff, "news": news,
    "feeds": feeds, "feed_health": feed_health, "log": log_lines, "catalogue": catalogue,
    "claims": claims_text, "sources": sources, "rules": rules_text, "explain": explain_text,
    "ingest": ingest, "verify": verify, "head": head, "db": db, "alerts": alerts,
}

__all__ = ["RENDERERS", "fold", "ingest_line", "ingest_summary", "news_count", "pad"]
