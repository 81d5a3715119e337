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

from orjson import OPT_INDENT_2 as ORJSON_INDENT_2
from orjson import dumps as orjson_dumps

from tracker.json_values import holds_only
from tracker.render.kinds import Kind, Renderer, page
from tracker.render.lists import Recordable, Subscription, feed_records, log_record, records

if TYPE_CHECKING:
    from tracker.catalogue import EventType
    from tracker.events import RecordedEvent


def document(report: Any) -> str:
    return indented(report) + "\n"


def indented(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2)``, through orjson when it writes the
    very same text (``holds_only`` with ``_written_alike``): the stdlib writes indented JSON in
    Python, a second for a year's timeline; orjson a tenth of that. Anything else (other
    types, non-str keys, integers beyond 64 bits, lone surrogates) is written by the stdlib."""
    if holds_only(value, _written_alike):
        try:
            return str(orjson_dumps(value, option=ORJSON_INDENT_2), "utf-8")
        except (TypeError, UnicodeError):
            pass
    return json.dumps(value, ensure_ascii=False, indent=2)


def _written_alike(value: float) -> bool:
    """A float orjson and ``json`` write alike: zero, and magnitudes from 1e-4 to below 1e16
    (outside that orjson writes ``1e-7`` where ``json`` writes ``1e-07``; inf and NaN differ)."""
    return value == 0.0 or 1e-4 <= abs(value) < 1e16


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
