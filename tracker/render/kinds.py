"""The names every format module shares: what can be rendered, and how."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

#: What a command prints: a report from tracker.reports, or a list read from the log.
Kind = Literal["status", "timeline", "diff", "news", "feeds", "feed_health", "log", "catalogue",
               "sources", "claims", "rules", "explain", "ingest"]
Format = Literal["text", "json", "markdown", "jsonl"]
#: Turns one kind of report into exactly the text a command prints.
Renderer = Callable[[Any], str]


def page(render_document: Renderer) -> Renderer:
    """A report is printed as a page: its document, then a blank line."""

    def render_page(report: Any) -> str:
        return render_document(report) + "\n"

    return render_page
