"""Everything a command prints, in every format, through one function: :func:`output`.

A format is a module whose table maps each kind it can render to a function returning exactly
what the command prints; adding a format means writing that module and listing its table in
``FORMATS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.render import json_format, markdown, text
from tracker.render.kinds import Format, Kind, Renderer
from tracker.render.lists import interval

__all__ = ["FORMATS", "Format", "Kind", "Renderer", "interval", "output"]

FORMATS: Mapping[Format, Mapping[Kind, Renderer]] = {
    "text": text.RENDERERS,
    "json": json_format.JSON_RENDERERS,
    "markdown": markdown.RENDERERS,
    "jsonl": json_format.JSONL_RENDERERS,
}


def output(report: Any, kind: Kind, fmt: Format) -> str:
    """``report`` rendered as ``fmt``: exactly what the command prints, final newline included.

    ``report`` is what the application returned for that kind: a report dict from
    tracker.reports, or the subscriptions, feed health rows, events or event types listed.
    """
    try:
        renderer = FORMATS[fmt][kind]
    except KeyError:
        raise ValueError(f"cannot render a {kind!r} report as {fmt!r}") from None
    return renderer(report)
