"""Reports and lists as JSON, and the log as JSON lines, for other tools.

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
    from tracker.events import RecordedEvent


def document(report: Any) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def feeds_document(subscriptions: Iterable[Subscription]) -> str:
    """Non-ASCII escaped, unlike the other documents, as the feed list has always been."""
    return json.dumps(feed_records(subscriptions), indent=2) + "\n"


def health_document(health: Iterable[Recordable]) -> str:
    return document(records(health))


def log_lines(events: Iterable[RecordedEvent]) -> str:
    return "".join(json.dumps(log_record(event), ensure_ascii=False) + "\n" for event in events)


JSON_RENDERERS: dict[Kind, Renderer] = {
    "status": page(document), "timeline": page(document), "diff": page(document),
    "news": document, "feeds": feeds_document, "feed_health": health_document,
    "sources": document, "claims": document, "rules": document, "explain": document,
    "ingest": document,
}
JSONL_RENDERERS: dict[Kind, Renderer] = {"log": log_lines}
