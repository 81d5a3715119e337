"""Parameter types the commands share, so a position or an interval is bounded the same way
wherever it is taken. A bad value is a ``UsageError``: one line naming the option, exit 2."""

from __future__ import annotations

import math
import re
from typing import Any

import click

from tracker.errors import UsageError
from tracker.ingest.subscriptions import parse_interval
from tracker.limits import MAX_POSITION

#: More digits than this cannot be a position (and would be slow to convert).
_MAX_DIGITS = len(str(MAX_POSITION))
_INTEGER = re.compile(r"([+-]?)([0-9]+)")


class PositionType(click.ParamType):
    """A log position, ``minimum`` (1, or 0 where "from the start" makes sense) to the largest
    one the database can store."""

    name = "position"

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            match = _INTEGER.fullmatch(str(value).strip())
            if match is None:
                raise _bad(param, f"{_shown(value)} is not a whole number")
            sign, digits = match.groups()
            number = MAX_POSITION + 1 if len(digits.lstrip("0")) > _MAX_DIGITS else int(digits)
            number = -number if sign == "-" else number
        if not self.minimum <= number <= MAX_POSITION:
            raise _bad(param, f"{_shown(value)} is not in the range {self.minimum} to "
                              f"{MAX_POSITION}")
        return number


class IntervalType(click.ParamType):
    """A polling interval in the one duration grammar (30m, 1h30m, 1d12h, 1w): at least a
    minute, at most a year.

    The text is checked here and handed on as written; ``parse_interval`` holds the bounds.
    """

    name = "interval"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        text = str(value)
        try:
            parse_interval(text)
        except UsageError as exc:
            raise UsageError(f"{_label(param)}: {exc}") from None
        return text


class SecondsType(click.ParamType):
    """A finite number of seconds within ``minimum``..``maximum`` (NaN and inf refused)."""

    name = "seconds"

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _bad(param, f"{_shown(value)} is not a number of seconds") from None
        if not math.isfinite(number) or not self.minimum <= number <= self.maximum:
            raise _bad(param, f"{_shown(value)} is not in the range {self.minimum:g} to "
                              f"{self.maximum:g} seconds")
        return number


def _bad(param: click.Parameter | None, message: str) -> UsageError:
    return UsageError(f"{_label(param)}: {message}")


def _label(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name if param is not None else "value"


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "...")


POSITION = PositionType()
#: ``--after N``: 0 means from the start of the log.
POSITION_OR_START = PositionType(minimum=0)
#: A count of events (``--limit``): bounded like a position.
COUNT = PositionType()
INTERVAL = IntervalType()
