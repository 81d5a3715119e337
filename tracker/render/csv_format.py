"""Every kind as CSV: the flat table of :mod:`tracker.render.tables`, a header row first.

Quoting is RFC 4180's, by the csv module (CRLF line ends, quotes doubled, a field holding a
comma, quote or line break quoted). Lists are joined with "; ", mappings written as JSON,
booleans as ``true``/``false``, None as an empty cell.

**Formula injection.** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@``
(or a tab or carriage return, which some read past) as a formula, and feed text is written by
strangers: a headline ``=HYPERLINK("https://evil.example", "Click")`` would become a live link,
and worse. As OWASP recommends, such a text cell is written with a single quote in front, so it
reads as text. Numbers tracker itself wrote (a negative count) are left as they are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from tracker.render.kinds import Kind, Renderer
from tracker.render.tables import TABLES, Table

#: What a spreadsheet may read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = "; "


def guarded(text: str) -> str:
    """``text`` as a spreadsheet reads it as text, never as a formula (OWASP: prefix ``'``)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str | int | float:
    """One CSV field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Mapping):
        return guarded(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return guarded(LIST_SEPARATOR.join(str(cell(v)) for v in value))
    return guarded(str(value))


def rows_text(rows: Iterable[list[Any]], header: list[str] | None = None) -> str:
    """Rows (after the header, when given) as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    return out.getvalue()


def table_text(table: Table) -> str:
    columns, rows = table
    return rows_text(rows, columns)


def _renderer(kind: Kind) -> Renderer:
    build = TABLES[kind]

    def render(report: Any) -> str:
        return table_text(build(report))

    return render


RENDERERS: dict[Kind, Renderer] = {kind: _renderer(kind) for kind in TABLES}
