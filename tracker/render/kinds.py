"""The names every format module shares: what can be rendered, and how."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tracker.render.terminal import Layout

#: What a command prints: a report from tracker.reports, or a list read from the log.
Kind = Literal["status", "timeline", "diff", "news", "feeds", "feed_health", "log", "catalogue",
               "sources", "claims", "rules", "explain", "ingest", "verify", "head", "db",
               "alerts"]
Format = Literal["text", "json", "markdown", "csv", "jsonl"]
#: The formats every command that prints a report or a list offers.
REPORT_FORMATS: tuple[Format, ...] = ("text", "json", "markdown", "csv")
#: ... and a command that prints a stream of records (the log), one JSON document a line too.
STREAM_FORMATS: tuple[Format, ...] = (*REPORT_FORMATS, "jsonl")
#: Turns one kind of report into exactly the text a command prints.
Renderer = Callable[[Any], str]
#: The same for a terminal: the text laid out within the terminal's width.
TextRenderer = Callable[[Any, "Layout"], str]


def page(render_document: Renderer) -> Renderer:
    """A report is printed as a page: its document, then a blank line."""

    def render_page(report: Any) -> str:
        return render_document(report) + "\n"

    return render_page
