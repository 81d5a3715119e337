"""Lists: the feeds followed, feed health, news, the log, the event catalogue and publishers.

The records here are what every format of a list shows; the ``*_text`` functions are the text
format, one line (or a few) per entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tracker.dates import iso
from tracker.render import mdsafe
from tracker.render.facts import published_label

if TYPE_CHECKING:
    from tracker.catalogue import EventType
    from tracker.events import RecordedEvent


class Subscription(Protocol):
    """A feed followed, as the feed commands read it from the log."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def every_seconds(self) -> int: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


class Recordable(Protocol):
    """A row (such as a feed's health) that knows its own JSON record."""

    def as_dict(self) -> dict[str, Any]: ...


def interval(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def feed_records(subscriptions: Iterable[Subscription]) -> list[dict[str, Any]]:
    """The feeds followed, by name."""
    return [{"name": s.name, "url": s.url, "every_seconds": s.every_seconds, "tags": list(s.tags)}
            for s in sorted(subscriptions, key=lambda s: s.name)]


def records(rows: Iterable[Recordable]) -> list[dict[str, Any]]:
    return [row.as_dict() for row in rows]


def log_record(event: RecordedEvent) -> dict[str, Any]:
    """An event as ``tracker log`` shows it: everything but the link to the event before."""
    record = event.as_dict()
    del record["prev_hash"]
    return record


def feeds_text(subscriptions: Iterable[Subscription]) -> str:
    subs = feed_records(subscriptions)
    width = max((len(s["name"]) for s in subs), default=4)
    lines = []
    for s in subs:
        tags = f"  [{', '.join(s['tags'])}]" if s["tags"] else ""
        lines.append(f"{s['name']:<{width}}  {interval(s['every_seconds']):>6}  {s['url']}{tags}")
    return "".join(f"{line}\n" for line in lines) if lines else "no feeds followed\n"


def health_text(health: Iterable[Recordable]) -> str:
    rows = records(health)
    width = max((len(r["name"]) for r in rows), default=4)
    lines = [f"{'feed':<{width}}  {'last success':<20}  {'fails':>5}  {'next attempt':<20}  "
             f"{'items':>5}  last error"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {r['last_success'] or 'never':<20}  "
                     f"{r['consecutive_failures']:>5}  {r['next_attempt'] or '-':<20}  "
                     f"{r['items_recorded']:>5}  {r['last_error'] or ''}")
    return "".join(f"{line}\n" for line in lines)


def news_text(report: Mapping[str, Any]) -> str:
    if not report["stories"]:
        since = report.get("since")
        return "no stories" + (f" since {since}" if since else "") + "\n"
    lines: list[str] = []
    indent = " " * 12
    for story in report["stories"]:
        lines.append(f"{published_label(story)}  {story['title']}  [{story['id']}]")
        lines.append(f"{indent}score {story['score']}: {', '.join(story['matched'])}")
        for source in story["sources"]:
            lines.append(f"{indent}- {source['feed']}: {source['link'] or '(no link)'} "
                         f"[#{source['position']}]")
        for fact in story["facts"]:
            value = json.dumps(fact["value"], ensure_ascii=False)
            lines.append(f"{indent}* {fact['kind']}: {value} ({fact['confidence']}) "
                         f"[#{fact['position']}]")
    return "".join(f"{line}\n" for line in lines)


def news_markdown(report: Mapping[str, Any]) -> str:
    """The stories as a briefing: a heading per story, its sources and facts as bullets."""
    since = report.get("since")
    out = ["# News", "", f"_{report.get('count', 0)} stories"
           + (f" since {mdsafe.text(since)}" if since else "") + "_"]
    for story in report["stories"]:
        out += ["", f"## {mdsafe.text(story['title'] or '(untitled)')}", "",
                f"{mdsafe.code(story['id'])} {mdsafe.text(published_label(story))}, "
                f"score {mdsafe.text(story['score'])}: "
                f"{mdsafe.text(', '.join(story['matched']))}", ""]
        for source in story["sources"]:
            where = mdsafe.autolink(source["link"]) if source["link"] else "(no link)"
            out.append(f"- {mdsafe.text(source['feed'])}: {where} [#{source['position']}]")
        for fact in story["facts"]:
            value = json.dumps(fact["value"], ensure_ascii=False)
            out.append(f"- {mdsafe.text(fact['kind'])}: {mdsafe.text(value)} "
                       f"({mdsafe.text(fact['confidence'])}) [#{fact['position']}]")
    return "\n".join(out) + "\n"


def _brief(data: Any, width: int = 80) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def log_text(events: Iterable[RecordedEvent]) -> str:
    return "".join(f"{event.position:>7}  {iso(event.recorded_at)[:19]}  {event.type:<24} "
                   f"{event.stream_id}  {_brief(event.data)}\n" for event in events)


def catalogue_text(event_types: Iterable[EventType]) -> str:
    lines = []
    for et in event_types:
        lines.append(f"{et.name} v{et.version}: {et.summary}")
        for name, meaning in et.fields.items():
            flag = "*" if name in et.required else " "
            lines.append(f"   {flag} {name:<20} {meaning}")
    return "".join(f"{line}\n" for line in lines)


def sources_text(report: Mapping[str, Any]) -> str:
    """Publishers, strongest tier first: the tier in force, who set it, their feeds."""
    rows = report["publishers"]
    if not rows:
        return "no publishers\n"
    width = max(len("publisher"), *(len(r["publisher"]) for r in rows))
    lines = [f"{'publisher':<{width}}  {'tier':<10}  {'set by':<14}  feeds"]
    for r in rows:
        positions = " ".join(f"#{s['position']}" for s in r["sources"])
        set_by = f"{r['tier_set_by']} {positions}".strip()
        lines.append(f"{r['publisher']:<{width}}  {r['tier']:<10}  {set_by:<14}  "
                     f"{', '.join(r['feeds']) or '-'}")
        remarks = [f"note: {r['note']}"] if r.get("note") else []
        if r["tier_set_by"] == "analyst" and r.get("tier_given") not in (None, r["tier"]):
            remarks.append(f"its sources give {r['tier_given']}")
        if remarks:
            lines.append(f"{'':<{width}}  {'; '.join(remarks)}")
    return "".join(f"{line}\n" for line in lines)
