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

from tracker.dates import parse_date, period_end, truncate, utc
from tracker.errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w|y)\s*(ago)?\s*$", re.I)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
        # dateutil reads more of ISO 8601 than the stdlib (24:00, 2025-120, a lower-case z).
        start, precision = parse_date(raw, dateutil_parser.isoparse)
        if precision == "undated":  # a precision of the record, not a moment to ask about
            raise ValueError(raw)
    except (ValueError, OverflowError):
        raise UsageError(f"cannot read WHEN {text!r}: use an ISO date or time (2025-04-30, "
                         "2025-04, 2025, 2025-04-30T12:00Z) or a relative form (7d, 12h, 2w, "
                         "now)") from None
    if precision == "instant":
        instant = utc(start)
        return When(raw, instant + timedelta(microseconds=1), instant)
    return When(raw, period_end(start, precision), utc(start))
