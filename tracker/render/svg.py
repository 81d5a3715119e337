"""The report's timeline chart as inline SVG: drawn once, read without JavaScript or fonts.

One world-time axis for three bands: the dossier's milestones (a bar over the period each is
known to, numbered for the key beside the chart), each context rate as a step line (a value
holds until the next accepted one), and the news volume per week as bars. Pure: a chart value
from ``tracker.report_chart.chart`` in, markup out; every text from the record is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from markupsafe import Markup, escape

from tracker.dates import read_instant, utc
from tracker.render.words import bound

WIDTH: Final = 1000
LEFT: Final = 64
RIGHT: Final = 28
#: Colours that stay apart for common colour blindness (Okabe–Ito), one per rate.
PALETTE: Final = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MILESTONE_COLOUR: Final = "#6a51a3"
BAR_COLOUR: Final = "#8c96a0"
_ROW: Final = 18
_RATE_HEIGHT: Final = 180
_VOLUME_HEIGHT: Final = 90
_GAP: Final = 30
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec")


def _time(text: str) -> datetime:
    return utc(read_instant(text))


@dataclass(frozen=True, slots=True)
class _Scale:
    """World time to pixels across the plot."""

    start: datetime
    end: datetime

    def x(self, when: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (when - self.start).total_seconds() / span
        return round(LEFT + min(max(share, 0.0), 1.0) * (WIDTH - LEFT - RIGHT), 1)


def _text(x: float, y: float, body: Any, *, anchor: str = "start", size: int = 11,
          fill: str = "#333", weight: str = "normal", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text x="{x}" y="{y}" font-size="{size}" fill="{fill}" text-anchor="{anchor}" '
            f'font-weight="{weight}"{klass}>{escape(body)}</text>')


def amount(value: float, unit: Any, qualifier: Any = None) -> str:
    """"145%", "up to 145%": a rate as the record states it."""
    shown = f"{value:g}"
    lead = f"{words} " if (words := bound(qualifier)) else ""
    return f"{lead}{shown}%" if unit == "percent" else f"{lead}{shown}"


def _ticks(start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Axis ticks at weeks, months or years, whichever gives a readable number of them."""
    days = (end - start).days
    if days <= 70:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        first += timedelta(days=(7 - first.weekday()) % 7)
        out = []
        while first <= end:
            out.append((first, f"{first.day} {_MONTHS[first.month - 1]}"))
            first += timedelta(days=7)
        return out
    if days <= 4 * 366:
        every = next(n for n in (1, 2, 3, 6, 12) if days / 30.4 / n <= 12)
        year, month = start.year, start.month
        out = []
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            tick = datetime(year, month, 1, tzinfo=UTC)
            if tick > end:
                return out
            if (month - 1) % every == 0:
                label = f"{_MONTHS[month - 1]} {year}" if month == 1 or not out \
                    else _MONTHS[month - 1]
                out.append((tick, label))
    step = max(1, math.ceil(days / 365.25 / 10))
    return [(datetime(y, 1, 1, tzinfo=UTC), str(y))
            for y in range(start.year + 1, end.year + 1) if y % step == 0]


def _nice_max(top: float, count: int = 4) -> tuple[float, float]:
    """An axis maximum at or above ``top`` and a round step dividing it."""
    if top <= 0:
        return 1.0, 1.0
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * math.ceil(top / step), step


def _grouped(marks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Milestones known to the same period as one mark, numbered "1–5" (one bar, not five)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for m in marks:
        groups.setdefault((m["at"], m["until"]), []).append(m)
    out = []
    for (at, until), members in groups.items():
        numbers = [int(m["n"]) for m in members]
        run = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        label = (f"{numbers[0]}–{numbers[-1]}" if run and len(numbers) > 2
                 else ", ".join(map(str, numbers)))
        tip = "; ".join(f"{m['n']}. {m.get('title') or ''}" for m in members)
        out.append({"n": label, "at": at, "until": until, "label": members[0]["label"],
                    "tip": f"{tip} ({members[0]['label']})"})
    return out


def _milestone_rows(marks: Sequence[Mapping[str, Any]], scale: _Scale
                    ) -> list[tuple[Mapping[str, Any], int, float, float]]:
    """Each mark with the row it is drawn in, so marks of overlapping periods never overlap."""
    ends: list[float] = []
    placed: list[tuple[Mapping[str, Any], int, float, float]] = []
    for m in _grouped(marks):
        x0 = scale.x(_time(m["at"]))
        x1 = max(scale.x(_time(m["until"])), x0 + 12 + 7 * len(m["n"]))
        row = next((i for i, end in enumerate(ends) if end <= x0), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = x1 + 3
        placed.append((m, row, x0, x1))
    return placed


def timeline_svg(chart: Mapping[str, Any], title: str = "Timeline") -> Markup:
    """The chart for one policy, as an ``<svg>`` element to place inline in a page."""
    if not chart.get("start") or not chart.get("end"):
        return Markup('<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="40" '
                      'role="img" aria-label="timeline: nothing dated yet">{t}</svg>').format(
            w=WIDTH, t=Markup(_text(LEFT, 24, "Nothing dated to draw yet.")))
    scale = _Scale(_time(chart["start"]), _time(chart["end"]))
    marks = list(chart.get("milestones") or ())
    series = [s for s in chart.get("series") or () if s.get("steps")]
    weeks = list(chart.get("weeks") or ())
    body: list[str] = []
    y = 22
    grid_top = y
    placed = _milestone_rows(marks, scale)
    rows = max((row for _m, row, _a, _b in placed), default=-1) + 1
    if rows:
        body.append(_text(LEFT, y - 8, "Milestones", size=10, fill="#555"))
        for m, row, x0, x1 in placed:
            top = y + row * _ROW
            tip = m["tip"]
            body.append(
                f'<g class="milestone" data-at="{escape(m["label"])}"><title>{escape(tip)}'
                f'</title><rect x="{x0}" y="{top + 2}" width="{round(x1 - x0, 1)}" '
                f'height="{_ROW - 4}" rx="3" fill="{MILESTONE_COLOUR}" fill-opacity="0.18" '
                f'stroke="{MILESTONE_COLOUR}" stroke-width="1"/>'
                f'<path d="M{x0} {top + 3} l5 6 l-5 6 l-5 -6 z" fill="{MILESTONE_COLOUR}"/>'
                + _text(x0 + 8, top + 13, str(m["n"]), size=10, fill=MILESTONE_COLOUR,
                        weight="bold") + "</g>")
        y += rows * _ROW + _GAP
    if series:
        body.append(_rates(series, scale, y))
        y += _RATE_HEIGHT + _GAP
    if weeks:
        body.append(_volume(weeks, scale, y))
        y += _VOLUME_HEIGHT
    grid_bottom = y
    axis = [f'<line x1="{LEFT}" y1="{grid_bottom}" x2="{WIDTH - RIGHT}" y2="{grid_bottom}" '
            'stroke="#333" stroke-width="1"/>']
    for tick, label in _ticks(scale.start, scale.end):
        x = scale.x(tick)
        axis.append(f'<line x1="{x}" y1="{grid_top}" x2="{x}" y2="{grid_bottom}" '
                    'stroke="#ddd" stroke-width="1"/>')
        axis.append(f'<line x1="{x}" y1="{grid_bottom}" x2="{x}" y2="{grid_bottom + 4}" '
                    'stroke="#333"/>')
        axis.append(_text(x, grid_bottom + 16, label, anchor="middle", size=10))
    y = grid_bottom + 28
    legend, y = _legend(series, bool(rows), bool(weeks), y)
    height = y + 4
    label = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}" '
        f'font-family="system-ui, -apple-system, \'Segoe UI\', sans-serif">'
        f'<title>{label}</title><rect width="{WIDTH}" height="{height}" fill="#fff"/>'
        + "".join(axis) + "".join(body) + legend + "</svg>")


def _rates(series: Sequence[Mapping[str, Any]], scale: _Scale, top: int) -> str:
    bottom = top + _RATE_HEIGHT
    peak = max(step["value"] for s in series for step in s["steps"])
    high, step = _nice_max(peak * 1.1)
    units = {s.get("unit") for s in series}
    unit = "percent" if units == {"percent"} else None

    def y(value: float) -> float:
        return round(bottom - value / high * _RATE_HEIGHT, 1)

    out = [_text(LEFT, top - 8, "Rate" + (" (%)" if unit else ""), size=10, fill="#555")]
    tick = 0.0
    while tick <= high + 1e-9:
        out.append(f'<line x1="{LEFT}" y1="{y(tick)}" x2="{WIDTH - RIGHT}" y2="{y(tick)}" '
                   'stroke="#eee" stroke-width="1"/>')
        out.append(_text(LEFT - 6, y(tick) + 4, amount(tick, unit), anchor="end", size=10))
        tick += step
    out.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    end_x = scale.x(scale.end)
    for i, line in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        steps = line["steps"]
        points: list[tuple[float, float]] = []
        for n, s in enumerate(steps):
            x = scale.x(_time(s["at"]))
            if n:
                points.append((x, y(steps[n - 1]["value"])))
            points.append((x, y(s["value"])))
        points.append((end_x, y(steps[-1]["value"])))
        data = " ".join(f"{s['label']}={s['value']:g}" for s in steps)
        out.append(f'<g class="rate" data-slot="{escape(line["slot"])}" '
                   f'data-steps="{escape(data)}">')
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" '
                   f'points="{" ".join(f"{px},{py}" for px, py in points)}"/>')
        for s in steps:
            x, yy = scale.x(_time(s["at"])), y(s["value"])
            said = amount(s["value"], line.get("unit"), s.get("qualifier"))
            tip = f"{said} from {s['label']} ({', '.join(s.get('sources') or ())}; " \
                  f"log #{s['position']})"
            out.append(f'<circle cx="{x}" cy="{yy}" r="4" fill="{colour}">'
                       f'<title>{escape(tip)}</title></circle>')
            out.append(_text(x + 6, yy - 6, f"{said} ({s['label']})", size=11, fill=colour,
                             weight="bold"))
        out.append("</g>")
    return "".join(out)


def _volume(weeks: Sequence[Mapping[str, Any]], scale: _Scale, top: int) -> str:
    bottom = top + _VOLUME_HEIGHT
    high, step = _nice_max(max(w["count"] for w in weeks), 2)
    step = max(step, 1.0)
    out = [_text(LEFT, top - 8, "Stories per week", size=10, fill="#555")]
    tick = 0.0
    while tick <= high + 1e-9:
        yy = round(bottom - tick / high * _VOLUME_HEIGHT, 1)
        out.append(f'<line x1="{LEFT}" y1="{yy}" x2="{WIDTH - RIGHT}" y2="{yy}" '
                   'stroke="#eee" stroke-width="1"/>')
        out.append(_text(LEFT - 6, yy + 4, f"{tick:g}", anchor="end", size=10))
        tick += step
    out.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    out.append('<g class="volume">')
    for w in weeks:
        start = _time(w["start"])
        x0, x1 = scale.x(start), scale.x(start + timedelta(days=7))
        height = round(w["count"] / high * _VOLUME_HEIGHT, 1)
        tip = f"week of {w['start'][:10]}: {w['count']} stor{'y' if w['count'] == 1 else 'ies'}"
        out.append(f'<rect x="{x0}" y="{round(bottom - height, 1)}" '
                   f'width="{max(round(x1 - x0 - 1, 1), 1)}" height="{height}" '
                   f'fill="{BAR_COLOUR}"><title>{escape(tip)}</title></rect>')
    out.append("</g>")
    return "".join(out)


def _legend(series: Sequence[Mapping[str, Any]], milestones: bool, volume: bool,
            top: int) -> tuple[str, int]:
    """One line per rate (its colour, title and slot), then the milestone and volume keys."""
    out = ['<g class="legend">']
    y = top
    for i, line in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<line x1="{LEFT}" y1="{y - 4}" x2="{LEFT + 24}" y2="{y - 4}" '
                   f'stroke="{colour}" stroke-width="2.5"/>')
        out.append(_text(LEFT + 30, y, f"{line.get('title') or line['slot']} "
                         f"({line['slot']}): step line, each value held until the next",
                         size=11))
        y += 18
    keys = []
    if milestones:
        keys.append((f'<rect x="{{x}}" y="{y - 12}" width="24" height="12" rx="3" '
                     f'fill="{MILESTONE_COLOUR}" fill-opacity="0.18" '
                     f'stroke="{MILESTONE_COLOUR}"/>',
                     "milestone over the period its date is known to (numbered: see the key)"))
    if volume:
        keys.append((f'<rect x="{{x}}" y="{y - 12}" width="24" height="12" '
                     f'fill="{BAR_COLOUR}"/>', "stories first published that week"))
    x = LEFT
    for shape, words in keys:
        out.append(shape.format(x=x))
        out.append(_text(x + 30, y, words, size=11))
        x += 30 + 6 * len(words) + 24
    if keys:
        y += 18
    out.append("</g>")
    return "".join(out), y
