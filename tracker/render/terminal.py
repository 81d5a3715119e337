"""Text for a terminal: how wide it is, whether it takes colour, and rich's wrapping and tables.

The width comes from ``COLUMNS`` when set, else from the terminal the output goes to, else
(a pipe or a file) ``WIDTH``. Widths are display cells, as rich counts them: a CJK character
takes two. Styles (bold headings) are written only to a terminal, and never when ``NO_COLOR``
is set or ``TERM`` is ``dumb``; piped output is plain text.

rich is imported when text is first rendered, so ``tracker --help`` does not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

#: The width of text written to a pipe or a file, when COLUMNS does not say otherwise.
WIDTH = 100
#: Narrower than this, text is laid out as if the terminal were this wide.
MIN_WIDTH = 20


@dataclass(frozen=True, slots=True)
class Layout:
    """How text is laid out: ``width`` in display cells, ``styled`` for ANSI styles."""

    width: int = WIDTH
    styled: bool = False


PLAIN = Layout()


def _columns(environ: Mapping[str, str]) -> int | None:
    try:
        value = int(environ.get("COLUMNS", "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def layout_for(stream: TextIO | Any, environ: Mapping[str, str] | None = None) -> Layout:
    """The layout of text written to ``stream`` (standard output, usually)."""
    env = os.environ if environ is None else environ
    terminal = _is_terminal(stream)
    width = _columns(env)
    if width is None and terminal:
        try:
            width = os.get_terminal_size(stream.fileno()).columns or None
        except (AttributeError, ValueError, OSError):
            width = None
    styled = terminal and not env.get("NO_COLOR") and env.get("TERM") != "dumb"
    return Layout(max(width or WIDTH, MIN_WIDTH), styled)


@cache
def _console(width: int) -> Console:
    from rich.console import Console

    return Console(width=width, color_system=None, force_terminal=False, no_color=True,
                   highlight=False, markup=False, emoji=False, legacy_windows=False,
                   force_jupyter=False, force_interactive=False, soft_wrap=False,
                   _environ={})


def cells(text: str) -> int:
    """How many terminal columns ``text`` takes (CJK characters take two)."""
    from rich.cells import cell_len

    return cell_len(text)


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces to ``width`` columns (never cut)."""
    return text + " " * max(width - cells(text), 0)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, an ellipsis marking the cut."""
    if cells(text) <= width:
        return text
    from rich.cells import set_cell_size

    return set_cell_size(text, max(width - 1, 0)).rstrip() + "…"


def wrap(text: str, width: int) -> list[str]:
    """``text`` (whitespace folded) as lines of at most ``width`` columns: broken between words,
    and inside a word (a URL, a run of CJK text) only where it cannot fit on a line."""
    from rich.text import Text

    body = " ".join(text.split())
    if not body:
        return [""]
    width = max(width, 1)
    lines = [line.plain.rstrip() for line in Text(body).wrap(_console(width), width)]
    return lines or [""]


def row(left: str, text: str, mark: str, left_width: int, width: int,
        indent: int = 2, hang: int = 0) -> list[str]:
    """A label column, the wrapped text beside it, and a source marker (kept whole, never
    split across lines) at the end of the last line. A label wider than its column, or a
    terminal too narrow for text beside the label, puts the text on the lines below; ``hang``
    indents the text's continuation lines further."""
    pad_text = " " * indent
    hanging = indent + left_width + 2
    lines: list[str] = []
    if width - hanging < MIN_WIDTH:  # too narrow for two columns: the text goes below
        hanging = indent + 2
        lines.append(f"{pad_text}{left}".rstrip())
        first = " " * hanging
    elif cells(left) > left_width:
        lines.append(f"{pad_text}{left}")
        first = " " * hanging
    else:
        first = pad_text + pad(left, left_width) + "  "
    room = width - hanging
    wrapped = wrap(text, room) if text.strip() else []
    if hang and len(wrapped) > 1:  # the rest again, within the narrower room
        body = " ".join(text.split())
        rest = body[len(wrapped[0]):].strip()
        wrapped = wrapped[:1] + wrap(rest, room - hang)
    if mark:
        last_room = room - (hang if len(wrapped) > 1 else 0)
        if wrapped and cells(wrapped[-1]) + 1 + cells(mark) <= last_room:
            wrapped[-1] = f"{wrapped[-1]} {mark}"
        else:
            wrapped.append(mark)
    if not wrapped:
        return [*lines, first.rstrip()] if first.strip() else lines
    out = [first + wrapped[0]]
    out += [" " * (hanging + hang) + line for line in wrapped[1:]]
    return lines + out


def paragraph(text: str, width: int, indent: int = 0, hanging: int | None = None) -> list[str]:
    """``text`` wrapped to ``width``, its first line indented ``indent``, the rest
    ``hanging`` (default: ``indent``)."""
    hang = indent if hanging is None else hanging
    room = max(width - max(indent, hang), 1)
    lines = wrap(text, room)
    return [" " * indent + lines[0], *(" " * hang + line for line in lines[1:])]


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its heading, and how its cells behave when the table is too wide."""

    heading: str
    justify: str = "left"
    #: Cells that may be wrapped (False: kept on one line, cut with an ellipsis).
    wrap: bool = True
    min_width: int | None = None
    #: A share of the room left once the other columns have their width (None: none).
    ratio: int | None = None
    max_width: int | None = None
    #: A fixed width (None: as wide as the cells need, within the table's width).
    width: int | None = None


def table(columns: Sequence[Column], rows: Iterable[Sequence[str]], layout: Layout,
          *, indent: int = 0) -> list[str]:
    """A table without borders: headings, then one row per record, columns two spaces apart,
    laid out by rich within the width (long cells wrapped, or cut where a column says so)."""
    from rich.table import Table

    grid = Table(box=None, show_header=True, header_style="bold" if layout.styled else None,
                 pad_edge=False, padding=(0, 2, 0, 0), show_edge=False, expand=False)
    for col in columns:
        grid.add_column(col.heading, justify=col.justify,  # type: ignore[arg-type]
                        overflow="fold" if col.wrap else "ellipsis", no_wrap=not col.wrap,
                        min_width=col.min_width, max_width=col.max_width, ratio=col.ratio,
                        width=col.width)
    for cells_ in rows:
        grid.add_row(*cells_)
    return render_lines(grid, layout, indent=indent)


def render_lines(renderable: Any, layout: Layout, *, indent: int = 0) -> list[str]:
    """What rich prints for ``renderable`` within the layout's width, as lines (styled with ANSI
    escapes only when the layout is), trailing spaces removed."""
    from rich.console import Console

    width = max(layout.width - indent, MIN_WIDTH)
    console = Console(width=width, color_system="standard" if layout.styled else None,
                      force_terminal=layout.styled, no_color=not layout.styled,
                      highlight=False, markup=False, emoji=False, legacy_windows=False,
                      force_jupyter=False, force_interactive=False, record=False,
                      _environ={})
    with console.capture() as captured:
        console.print(renderable)
    lines = captured.get().rstrip("\n").split("\n")
    return [(" " * indent + line).rstrip() if line.strip() else "" for line in lines]


def heading(text: str, layout: Layout, indent: int = 0) -> list[str]:
    """A title, wrapped to the width: bold on a terminal that takes styles."""
    lines = paragraph(text, layout.width, indent)
    if not layout.styled:
        return lines
    return [f"{line[:indent]}\x1b[1m{line[indent:]}\x1b[0m" for line in lines]


def lines_out(lines: Iterable[str]) -> str:
    """Lines as the command prints them, each ending in a newline."""
    return "".join(f"{line}\n" for line in lines)
