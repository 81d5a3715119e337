"""Reports and lists as JSON, and the log as JSON lines, for other tools.

docs/json.md documents each command's shape. A report is one JSON object; a list of things
(feeds, feed health, alert channels, event types, the log) is an array of objects.

(Not ``json.py``: a submodule named like the standard library module would replace that name
in the package's namespace.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tracker.render.kinds import Kind, Renderer, page
from tracker.render.lists import Recordable, Subscription, feed_records, log_record, records

if TYPE_CHECKING:
    from tracker.catalogue import EventType
    from tracker.events import RecordedEvent


def document(report: Any) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def feeds_document(subscriptions: Iterable[Subscription]) -> str:
    """Non-ASCII escaped, unlike the other documents, as the feed list has always been."""
    return json.dumps(feed_records(subscriptions), indent=2) + "\n"


def health_document(health: Iterable[Recordable]) -> str:
    return document(records(health))


def log_line(event: RecordedEvent) -> str:
    return json.dumps(log_record(event), ensure_ascii=False)


def log_lines(events: Iterable[RecordedEvent]) -> str:
    return "".join(log_line(event) + "\n" for event in events)


def log_document(events: Iterable[RecordedEvent]) -> str:
    """The events as one array, an event a line (``tracker log`` streams it a page at a
    time: see ``tracker.render.stream``)."""
    lines = ",\n".join("  " + log_line(event) for event in events)
    return f"[\n{lines}\n]\n" if lines else "[]\n"


def catalogue_records(event_types: Iterable[EventType]) -> list[dict[str, Any]]:
    return [{"type": et.name, "version": et.version, "summary": et.summary,
             "fields": [{"name": name, "meaning": meaning, "required": name in et.required}
                        for name, meaning in et.fields.items()],
             "upcasts_from": sorted(et.upcasters)} for et in event_types]


def head_document(report: Any) -> str:
    """One line, keys sorted: the form `tracker head --format json` has always saved."""
    return json.dumps(report, sort_keys=True) + "\n"


JSON_RENDERERS: dict[Kind, Renderer] = {
    "status": page(document), "timeline": page(document), "diff": page(document),
    "news": document, "feeds": feeds_document, "feed_health": health_document,
    "sources": document, "claims": document, "rules": document, "explain": document,
    "ingest": document, "verify": document, "head": head_document, "db": document,
    "alerts": document, "log": log_document,
    "catalogue": lambda types: document(catalogue_records(types)),
}
JSONL_RENDERERS: dict[Kind, Renderer] = {"log": log_lines}
