"""Dates known only to a precision: a year, a month, a day or an instant.

The record dates what happened no finer than it is known ("late April 2025" is the month
2025-04), so a date is a start and a precision, and it names the period from that start to
``period_end``. As text, the form says the precision: "2025", "2025-04", "2025-04-30", or an ISO
instant. Everything here is pure.

Background with no world date at all (the article says Hong Kong has no exchange controls, not
since when) is ``undated``: it is stored at the fixed instant ``UNDATED_AT`` (the log's
``occurred_at`` column is never null), its period ends there, so it is in view in every
world-as-of (the tracker dates nothing before 1900), and it is written "undated", never as
that instant.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final, Literal, get_args

Precision = Literal["instant", "day", "month", "year", "undated"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

UNDATED: Final = "undated"
#: Where an undated event is stored: before anything the tracker dates, so always in view.
UNDATED_AT: Final = datetime(1900, 1, 1, tzinfo=UTC)

#: The partial forms a date is written in, with the ``strptime`` format that reads each.
_FORMS: tuple[tuple[re.Pattern[str], Precision, str], ...] = (
    (re.compile(r"\d{4}"), "year", "%Y"),
    (re.compile(r"\d{4}-\d{2}"), "month", "%Y-%m"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "day", "%Y-%m-%d"),
)


def utc(dt: datetime) -> datetime:
    """Normalise to an aware UTC datetime (naive values are taken to be UTC already)."""
    if dt.tzinfo is UTC:
        return dt
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """The one textual form of a timestamp used in hashes and output: ``strftime``'s
    ``%Y-%m-%dT%H:%M:%S.%fZ``, written by ``isoformat`` (a fifth of the time) for the years
    where the two agree (``%Y`` does not pad years before 1000 to four digits)."""
    dt = utc(dt)
    if dt.year >= 1000:
        return f"{dt.isoformat(timespec='microseconds')[:26]}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def period_end(start: datetime, precision: str) -> datetime:
    """The first instant after the period that ``start`` and ``precision`` describe.

    "April 2025" (month precision) ends at 2025-05-01T00:00Z; an instant ends at itself; an
    undated event at ``UNDATED_AT``, so it has happened by any world date asked about.
    """
    start = utc(start)
    if precision == "instant":
        return start
    if precision == UNDATED:
        return UNDATED_AT
    if precision == "day":
        return start + timedelta(days=1)
    if precision == "month":
        days = calendar.monthrange(start.year, start.month)[1]
        first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return first + timedelta(days=days)
    if precision == "year":
        return start.replace(year=start.year + 1, month=1, day=1, hour=0, minute=0, second=0,
                             microsecond=0)
    raise ValueError(f"unknown precision {precision!r}")


def truncate(dt: datetime, precision: str) -> datetime:
    """The start of the period containing ``dt`` at ``precision``."""
    dt = utc(dt)
    if precision == "instant":
        return dt
    if precision == UNDATED:
        return UNDATED_AT
    if precision == "day":
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if precision == "month":
        return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if precision == "year":
        return dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"unknown precision {precision!r}")


#: The precisions that name a calendar period (the rest are an instant, or no date at all).
CALENDAR: Final = frozenset({"day", "month", "year"})


def on_calendar(dt: datetime, precision: str, zone: tzinfo) -> datetime:
    """Where a recorded date falls for a reader in ``zone``, as a UTC instant.

    A year, month or day is a calendar period, stored from UTC midnight: "April 2025" ends at
    midnight on 1 May wherever it is read, so it has happened by the end of April in any zone.
    An instant (and ``UNDATED_AT``) is the same moment everywhere and stays as it is.
    """
    if precision not in CALENDAR:
        return utc(dt)
    return utc(dt).replace(tzinfo=None).replace(tzinfo=zone).astimezone(UTC)


def read_instant(text: str) -> datetime:
    """An ISO 8601 instant as written (a trailing "Z" means UTC; no offset stays naive)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _partial_form(text: str) -> tuple[Precision, str] | None:
    """The precision and ``strptime`` format of a year, month or day; None for anything else."""
    for pattern, precision, fmt in _FORMS:
        if pattern.fullmatch(text):
            return precision, fmt
    return None


def precision_of(text: str) -> Precision:
    """The precision a date's form implies: "2025" is a year, anything not partial an instant."""
    if text == UNDATED:
        return "undated"
    form = _partial_form(text)
    return form[0] if form else "instant"


def parse_date(text: str, read: Callable[[str], datetime] = read_instant,
               ) -> tuple[datetime, Precision]:
    """Where the period ``text`` names starts, and its precision.

    A year, month or day starts at midnight UTC; anything else is an instant, left to ``read``
    (its own offset kept); "undated" is ``UNDATED_AT``. Raises ValueError for text that is no
    date.
    """
    if text == UNDATED:
        return UNDATED_AT, "undated"
    form = _partial_form(text)
    if form is None:
        return read(text), "instant"
    precision, fmt = form
    return datetime.strptime(text, fmt).replace(tzinfo=UTC), precision


def date_label(dt: datetime, precision: str) -> str:
    """A date written no finer than it is known: "2025", "2025-04", "2025-04-25", "undated"."""
    if precision == UNDATED:
        return UNDATED
    if precision == "year":
        return f"{dt.year:04d}"
    if precision == "month":
        return f"{dt.year:04d}-{dt.month:02d}"
    if precision == "day":
        return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}"
    return iso(dt)
