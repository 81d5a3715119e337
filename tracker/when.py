"""WHEN values on the command line: ISO dates and times, partial dates, and relative forms.

A WHEN names a moment *by the end of which* something is asked: ``2025-04-30`` means "by the end
of 30 April 2025" (UTC), ``2025-04`` the end of April, ``2024`` the end of 2024, ``7d`` seven
days before now, ``now`` this instant. ``parse_when`` returns the exclusive upper bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from dateutil import parser as dateutil_parser

from tracker.dates import UNDATED_AT, parse_date, period_end, truncate, utc
from tracker.errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w|y)\s*(ago)?\s*$", re.I)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: The years a WHEN may name: the record dates nothing before 1900 (``UNDATED_AT``), and a
#: bound far past any plan keeps date arithmetic inside what ``datetime`` can hold.
MIN_YEAR: Final = UNDATED_AT.year
MAX_YEAR: Final = 2200
_EARLIEST: Final = UNDATED_AT
_LATEST: Final = datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)
#: Digits a relative amount may have: more cannot stay within the years above.
_MAX_AMOUNT_DIGITS: Final = 9


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


def _shown(text: str) -> str:
    """``text`` quoted for an error line, cut short so hostile input stays one short line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _out_of_range(text: str) -> UsageError:
    return UsageError(f"WHEN {_shown(text)} is out of range: it must fall within the years "
                      f"{MIN_YEAR} to {MAX_YEAR}")


def _within_range(text: str, when: When) -> When:
    if when.start < _EARLIEST or when.before > _LATEST:
        raise _out_of_range(text)
    return when


def parse_when(text: str, now: datetime) -> When:
    """The moment ``text`` names, refused in one line when unreadable or outside
    ``MIN_YEAR``..``MAX_YEAR``."""
    return _within_range(text, _parse(text, now))


def _parse(text: str, now: datetime) -> When:
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
        digits, unit = match.group(1), match.group(2).lower()
        if len(digits.lstrip("0")) > _MAX_AMOUNT_DIGITS:
            raise _out_of_range(text)
        amount = int(digits)
        delta = timedelta(days=365 * amount) if unit == "y" else \
            timedelta(**{_UNITS[unit]: amount})
        if delta > now - _EARLIEST:
            raise _out_of_range(text)
        return When(raw, now - delta + timedelta(microseconds=1), now - delta)
    try:
        # dateutil reads more of ISO 8601 than the stdlib (24:00, 2025-120, a lower-case z).
        start, precision = parse_date(raw, dateutil_parser.isoparse)
        if precision == "undated":  # a precision of the record, not a moment to ask about
            raise ValueError(raw)
        if not MIN_YEAR <= utc(start).year <= MAX_YEAR:
            raise _out_of_range(text)
    except (ValueError, OverflowError):
        raise UsageError(f"cannot read WHEN {_shown(text)}: use an ISO date or time (2025-04-30, "
                         "2025-04, 2025, 2025-04-30T12:00Z) or a relative form (7d, 12h, 2w, "
                         "now)") from None
    if precision == "instant":
        instant = utc(start)
        return When(raw, instant + timedelta(microseconds=1), instant)
    return When(raw, period_end(start, precision), utc(start))
