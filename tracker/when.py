"""WHEN values on the command line, and the one duration grammar every option shares.

A WHEN names a period or an instant:

- an ISO date or time: a year (``2024``), a month (``2025-05``), a day (``2025-05-03``, also
  ``2025-123`` or ``2025-W18-6``), an hour or a minute (``2025-05-03T07:00``, ``2025-05-03
  07:00``), or an instant to the second or finer. Dates and times without an offset are read in
  the user's time zone (``tracker.zones``); ``Z`` or ``+08:00`` is taken as given;
- ``now``, ``today``, ``yesterday`` (days in the user's zone);
- a duration back from now: ``7d``, ``1d12h``, ``2w``, ``3 days ago`` (an instant).

A **lower bound** (``--since``, ``--recorded-since``) is the start of the named period
(``When.start``); an **upper bound** (``--until``, ``--as-of``, ``--world-as-of``) its end,
never later than now (``When.before``, exclusive). ``When.as_lower()`` turns a WHEN into the
bound its start is, for the state *before* a lower bound. ``When.label()`` says in words what
the bound is: "end of 2024 (2024-12-31 23:59 HKT)", never a day off.

Durations (``duration_seconds``): whole amounts of ``s``, ``m`` (minutes), ``h``, ``d``, ``w``
and ``y`` (365 days), or their words (``min``, ``hours``, ``days``, ``weeks``...), one after
another: ``90s``, ``1h30m``, ``1d12h``, ``2w``, ``1 day 12 hours``. Feed intervals (``--every``)
are read by the same function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, Literal

from tracker.dates import UNDATED_AT, on_calendar, utc
from tracker.errors import UsageError
from tracker.zones import instant_text

WhenPrecision = Literal["year", "month", "day", "hour", "minute", "instant"]

#: The years a WHEN may name: the record dates nothing before 1900 (``UNDATED_AT``), and a
#: bound far past any plan keeps date arithmetic inside what ``datetime`` can hold.
MIN_YEAR: Final = UNDATED_AT.year
MAX_YEAR: Final = 2200
_EARLIEST: Final = UNDATED_AT
_FIRST_WALL: Final = datetime(MIN_YEAR, 1, 1)
_LAST_WALL: Final = datetime(MAX_YEAR + 1, 1, 1)
#: The smallest step of time: an exclusive bound one tick after an instant includes it.
TICK: Final = timedelta(microseconds=1)

# -- durations ----------------------------------------------------------------------------------

_DAY = 86400
_UNIT_SECONDS: Final = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), _DAY),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 7 * _DAY),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), 365 * _DAY),
}
_TERM = re.compile(r"\s*(\d+)\s*([a-z]+)\s*,?", re.I)
#: Digits an amount may have, and the longest duration read (far past any bound that uses one):
#: more cannot mean anything here, and would be slow to convert.
_MAX_AMOUNT_DIGITS: Final = 12
MAX_DURATION_S: Final = 10**12
DURATION_FORMS: Final = "30m, 1h30m, 1d12h, 2w"


class DurationError(ValueError):
    """Text that is no duration (``too_large`` False), or one past ``MAX_DURATION_S``."""

    def __init__(self, text: str, *, too_large: bool = False) -> None:
        super().__init__(text)
        self.too_large = too_large


def duration_seconds(text: str) -> int:
    """Whole seconds in a duration such as ``1d12h`` (see the module's docstring).

    Raises ``DurationError`` for text that is no duration, or one too large to mean anything.
    """
    raw = text.strip()
    total = position = 0
    while position < len(raw):
        term = _TERM.match(raw, position)
        if term is None or term.end() == position:
            raise DurationError(text)
        digits, unit = term.group(1), term.group(2).lower()
        if unit not in _UNIT_SECONDS:
            raise DurationError(text)
        if len(digits.lstrip("0")) > _MAX_AMOUNT_DIGITS:
            raise DurationError(text, too_large=True)
        total += int(digits) * _UNIT_SECONDS[unit]
        position = term.end()
    if position == 0:
        raise DurationError(text)
    if total > MAX_DURATION_S:
        raise DurationError(text, too_large=True)
    return total


# -- WHEN ---------------------------------------------------------------------------------------

_YEAR = re.compile(r"(\d{4})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY_FORM = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
#: The time of day in an ISO date-time, to tell an hour or a minute from an instant.
_TIME = re.compile(r"[T ](\d{2})(?::?(\d{2}))?(?::?(\d{2}))?([.,]\d+)?", re.I)
_AGO = re.compile(r"(.*?)\s*ago", re.I | re.S)
_STEPS: Final = {"hour": timedelta(hours=1), "minute": timedelta(minutes=1)}


@dataclass(frozen=True, slots=True)
class When:
    """A WHEN as read: the period (or instant) it names, in UTC, and how to use it as a bound."""

    text: str
    start: datetime
    """Where the named period begins, UTC: the lower bound (``--since``)."""
    end: datetime
    """The first instant after the named period, UTC (one tick after an instant)."""
    precision: WhenPrecision
    now: datetime
    zone: tzinfo = UTC
    lower: bool = False
    """This bound is the start of the period (``as_lower``), not its end."""

    @property
    def before(self) -> datetime:
        """The exclusive upper bound: things at or after this instant are not yet in view.
        The end of the named period, never later than now; the start for a lower bound."""
        if self.lower:
            return self.start
        return min(self.end, self.now + TICK)

    @property
    def recorded_until(self) -> datetime:
        """Inclusive bound for ``recorded_at <= ...`` queries."""
        return self.before - TICK

    @property
    def cut_at_now(self) -> bool:
        """The named period has not ended yet, so the bound is now."""
        return not self.lower and self.end > self.now + TICK

    def as_lower(self) -> When:
        """The same WHEN as a lower bound: ``before`` is where its period starts (the state the
        log or the world was in *before* it)."""
        return replace(self, lower=True)

    def reached(self, occurred_until: datetime, precision: str) -> bool:
        """Whether something in the world whose period ends at ``occurred_until`` (a year, month
        or day from the record, read on the calendar in this zone; or an instant) had
        happened by this bound."""
        return on_calendar(occurred_until, precision, self.zone) <= self.before

    def label(self) -> str:
        """What the bound means, in the user's zone: "end of 2024 (2024-12-31 23:59 HKT)",
        "start of 2025-05-03 (00:00 HKT)", "2025-05-03 07:00 HKT"."""
        if self.lower:
            return self._period_label("start of", self.start)
        if self.cut_at_now:
            return instant_text(self.now, self.zone)
        return self._period_label("end of", self.end - TICK)

    def _period_label(self, word: str, instant: datetime) -> str:
        if self.precision == "instant":
            return instant_text(instant, self.zone)
        if self.precision in _STEPS:
            return instant_text(instant, self.zone, seconds=False)
        wall = self.start.astimezone(self.zone)
        period = {"year": "%Y", "month": "%Y-%m", "day": "%Y-%m-%d"}[self.precision]
        shown = instant_text(instant, self.zone, seconds=False)
        if self.precision == "day":
            shown = shown.split(" ", 1)[1]
        return f"{word} {wall.strftime(period)} ({shown})"


def _shown(text: str) -> str:
    """``text`` quoted for an error line, cut short so hostile input stays one short line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _out_of_range(text: str) -> UsageError:
    return UsageError(f"WHEN {_shown(text)} is out of range: it must fall within the years "
                      f"{MIN_YEAR} to {MAX_YEAR}")


def _unreadable(text: str) -> UsageError:
    return UsageError(f"cannot read WHEN {_shown(text)}: use an ISO date or time (2025-04-30, "
                      "2025-04, 2025, 2025-04-30T12:00), now, today, yesterday, or a time ago "
                      "(7d, 1d12h, 2w, 3 days ago)")


def parse_when(text: str, now: datetime, zone: tzinfo = UTC) -> When:
    """The period or instant ``text`` names, periods and local times read in ``zone``;
    refused in one line when unreadable or outside ``MIN_YEAR``..``MAX_YEAR``."""
    return _parse(text, utc(now), zone)


def _period(text: str, start: datetime, end: datetime, precision: WhenPrecision, now: datetime,
            zone: tzinfo) -> When:
    """A When from wall-clock bounds (naive: in ``zone``; aware: as given)."""
    walls = [value.replace(tzinfo=None) for value in (start, end)]
    if walls[0] < _FIRST_WALL or walls[1] > _LAST_WALL:
        raise _out_of_range(text)
    first, after = (value if value.tzinfo is not None else value.replace(tzinfo=zone)
                    for value in (start, end))
    return When(text, utc(first), utc(after), precision, now, zone)


def _day(text: str, day: date, now: datetime, zone: tzinfo) -> When:
    midnight = datetime(day.year, day.month, day.day)
    return _period(text, midnight, midnight + timedelta(days=1), "day", now, zone)


def _parse(text: str, now: datetime, zone: tzinfo) -> When:
    raw = text.strip()
    low = raw.lower()
    if low == "now":
        return When(raw, now, now + TICK, "instant", now, zone)
    if low in ("today", "yesterday"):
        day = now.astimezone(zone).date() - timedelta(days=1 if low == "yesterday" else 0)
        return _day(raw, day, now, zone)
    ago = _AGO.fullmatch(raw)
    try:
        seconds = duration_seconds(ago.group(1) if ago else raw)
    except DurationError as exc:
        if exc.too_large:
            raise _out_of_range(text) from None
        if ago:
            raise _unreadable(text) from None
        return _iso(text, raw, now, zone)
    delta = timedelta(seconds=seconds)
    if delta > now - _EARLIEST:
        raise _out_of_range(text)
    instant = now - delta
    return When(raw, instant, instant + TICK, "instant", now, zone)


def _iso(text: str, raw: str, now: datetime, zone: tzinfo) -> When:
    if (year := _YEAR.fullmatch(raw)) is not None:
        number = int(year.group(1))
        if not MIN_YEAR <= number <= MAX_YEAR:
            raise _out_of_range(text)
        return _period(raw, datetime(number, 1, 1), datetime(number + 1, 1, 1), "year", now,
                       zone)
    if (month := _MONTH.fullmatch(raw)) is not None:
        number, which = int(month.group(1)), int(month.group(2))
        if not 1 <= which <= 12:
            raise _unreadable(text)
        if not MIN_YEAR <= number <= MAX_YEAR:
            raise _out_of_range(text)
        after = datetime(number + (which == 12), which % 12 + 1, 1)
        return _period(raw, datetime(number, which, 1), after, "month", now, zone)
    from dateutil import parser as dateutil_parser  # reads more of ISO 8601 than the stdlib

    try:
        # dateutil reads 24:00, 2025-120, 2025-W18-6 and a lower-case z.
        moment = dateutil_parser.isoparse(raw)
    except (ValueError, OverflowError):
        raise _unreadable(text) from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise _out_of_range(text)
    clock = _TIME.search(raw) if not _DAY_FORM.fullmatch(raw) else None
    if clock is None:
        return _day(raw, moment.date(), now, zone)
    _hour, minute, second, fraction = clock.groups()
    precision: WhenPrecision = "instant" if second or fraction else \
        "minute" if minute else "hour"
    step = _STEPS.get(precision, TICK)
    return _period(raw, moment, moment + step, precision, now, zone)
