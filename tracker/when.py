"""WHEN values on the command line: ISO dates and times, partial dates, and relative forms.

A WHEN names a moment *by the end of which* something is asked: ``2025-04-30`` means "by the end
of 30 April 2025" (UTC), ``2025-04`` the end of April, ``2024`` the end of 2024, ``7d`` seven
days before now, ``now`` this instant. ``parse_when`` returns the exclusive upper bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil import parser as dateutil_parser

from tracker.errors import UsageError
from tracker.events import period_end, truncate, utc

_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w|y)\s*(ago)?\s*$", re.I)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class When:
    text: str
    before: datetime
    """Exclusive bound: things at or after this instant are not yet in view."""
    start: datetime
    """Where the named period begins (for ``--since``); an instant for instants."""

    @property
    def recorded_until(self) -> datetime:
        """Inclusive bound for ``recorded_at <= ...`` queries."""
        return self.before - timedelta(microseconds=1)

    def label(self) -> str:
        return self.text


def _period(raw: str, start: datetime, precision: str) -> When:
    return When(raw, period_end(start, precision), utc(start))


def parse_when(text: str, now: datetime) -> When:
    raw = text.strip()
    low = raw.lower()
    now = utc(now)
    if low == "now":
        return When(raw, now + timedelta(microseconds=1), now)
    if low == "today":
        return When(raw, period_end(now, "day"), truncate(now, "day"))
    if low == "yesterday":
        day = truncate(now - timedelta(days=1), "day")
        return When(raw, period_end(day, "day"), day)
    match = _RELATIVE.match(raw)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        delta = timedelta(days=365 * amount) if unit == "y" else \
            timedelta(**{_UNITS[unit]: amount})
        return When(raw, now - delta + timedelta(microseconds=1), now - delta)
    try:
        if _YEAR.match(raw):
            return _period(raw, datetime(int(raw), 1, 1), "year")
        if _MONTH.match(raw):
            year, month = raw.split("-")
            return _period(raw, datetime(int(year), int(month), 1), "month")
        if _DAY.match(raw):
            return _period(raw, dateutil_parser.isoparse(raw), "day")
        instant = utc(dateutil_parser.isoparse(raw))
        return When(raw, instant + timedelta(microseconds=1), instant)
    except (ValueError, OverflowError):
        pass
    raise UsageError(f"cannot read WHEN {text!r}: use an ISO date or time (2025-04-30, "
                     "2025-04, 2025, 2025-04-30T12:00Z) or a relative form (7d, 12h, 2w, now)")
