"""Lists: the feeds followed, feed health, news and the log.

The records here are what every format of a list shows (the text format is in
:mod:`tracker.render.text`, the flat tables of CSV and Markdown in :mod:`tracker.render.tables`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tracker.render import mdsafe, words
from tracker.render.facts import published_label
from tracker.zones import when_text

if TYPE_CHECKING:
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


def news_markdown(report: Mapping[str, Any]) -> str:
    """The stories as a briefing: a heading per story, its sources and facts as bullets."""
    since = report.get("since_label") or when_text(report.get("since"))
    until = report.get("until_label") or when_text(report.get("until"))
    count = words.of_total(int(report.get("count") or 0),
                           int(report.get("total", report.get("count")) or 0), "story",
                           "--limit to see more")
    out = ["# News", "", f"_{mdsafe.text(count)}"
           + (f" since {mdsafe.text(since)}" if since else "")
           + (f" until {mdsafe.text(until)}" if until else "") + "_"]
    for story in report["stories"]:
        out += ["", f"## {mdsafe.text(story['title'] or '(untitled)')}", "",
                f"{mdsafe.code(story.get('short_id') or story['id'])} "
                f"{mdsafe.text(published_label(story))}, "
                f"score {mdsafe.text(story['score'])}: "
                f"{mdsafe.text(', '.join(story['matched']))}", ""]
        for source in story["sources"]:
            where = mdsafe.autolink(source["link"]) if source["link"] else "(no link)"
            out.append(f"- {mdsafe.text(source['feed'])}: {where} [#{source['position']}]")
        for fact in story["facts"]:
            value = words.fact(fact["kind"], fact["value"])
            out.append(f"- {mdsafe.text(words.words(fact['kind']))}: {mdsafe.text(value)} "
                       f"(confidence {mdsafe.text(words.number(fact['confidence']))}) "
                       f"[#{fact['position']}]")
    return "\n".join(out) + "\n"
