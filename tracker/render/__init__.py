"""Everything a command prints, in every format, through one function: :func:`output` (and
:func:`stream` for the log, which may not fit in memory).

A format is a module whose table maps each kind it can render to a function returning exactly
what the command prints; adding a format means writing that module and listing its table in
``FORMATS``. Text is laid out for a terminal (:mod:`tracker.render.terminal`): its renderers
also take the layout (width, styles).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tracker.render import csv_format, json_format, markdown, tables, text, words
from tracker.render.kinds import REPORT_FORMATS, STREAM_FORMATS, Format, Kind, Renderer
from tracker.render.lists import interval
from tracker.render.terminal import PLAIN, Layout

__all__ = ["FORMATS", "REPORT_FORMATS", "STREAMS", "STREAM_FORMATS", "Format", "Kind",
           "Layout", "Renderer", "interval", "output", "stream"]

FORMATS: Mapping[Format, Mapping[Kind, Renderer]] = {
    "json": json_format.JSON_RENDERERS,
    "markdown": markdown.RENDERERS,
    "csv": csv_format.RENDERERS,
    "jsonl": json_format.JSONL_RENDERERS,
}
#: Kinds whose records are printed a page at a time, as they are read.
STREAMS: frozenset[Kind] = frozenset({"log"})
#: Records rendered and printed at a time by :func:`stream`.
PAGE = 1000


def output(report: Any, kind: Kind, fmt: Format, layout: Layout = PLAIN) -> str:
    """``report`` rendered as ``fmt``: exactly what the command prints, final newline included.

    ``report`` is what the application returned for that kind: a report dict from
    tracker.reports, or the subscriptions, feed health rows, events or event types listed.
    ``layout`` says how wide text may be and whether it may be styled (text only).
    """
    if fmt == "text":
        try:
            render_text = text.RENDERERS[kind]
        except KeyError:
            raise ValueError(f"cannot render a {kind!r} report as {fmt!r}") from None
        return render_text(report, layout)
    try:
        renderer = FORMATS[fmt][kind]
    except KeyError:
        raise ValueError(f"cannot render a {kind!r} report as {fmt!r}") from None
    return renderer(report)


def stream(records: Iterable[Any], kind: Kind, fmt: Format,
           layout: Layout = PLAIN) -> Iterator[str]:
    """``records`` rendered as ``fmt`` a page at a time, each page as soon as it is read: the
    same text as :func:`output` of them all (one header, one JSON array)."""
    if kind not in STREAMS:
        raise ValueError(f"{kind!r} is not a stream")
    source = iter(records)
    pages = iter(lambda: list(itertools.islice(source, PAGE)), [])
    count = 0
    first = True
    for page in pages:
        count += len(page)
        if fmt in ("text", "jsonl"):
            yield output(page, kind, fmt, layout)
        elif fmt == "json":
            body = ",\n".join("  " + json_format.log_line(e) for e in page)
            yield ("[\n" if first else ",\n") + body
        elif fmt == "csv":
            columns, rows = tables.TABLES[kind](page)
            yield csv_format.rows_text(rows, columns if first else None)
        elif fmt == "markdown":
            content = tables.TABLES[kind](page)
            lines = markdown.table("Log", content).splitlines()
            yield "\n".join(lines if first else lines[4:]) + "\n"
        else:
            raise ValueError(f"cannot render a {kind!r} stream as {fmt!r}")
        first = False
    if fmt == "json":
        yield "[]\n" if first else "\n]\n"
    elif first:  # nothing at all: what the format prints for no records
        yield output([], kind, fmt, layout)
    elif fmt == "markdown":
        yield f"\n_{words.plural(count, 'event')}_\n"
