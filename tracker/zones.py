"""The user's time zone: which one is in force, and times shown in it.

Periods a user names on the command line (``today``, ``2025-05``, ``2024``) are read in this
zone, and instants are shown in it: at the precision known, never with microseconds, with the
zone's abbreviation ("HKT") or, where it has none, its offset ("+08:00"). A date the record
knows only to the day, month or year is a calendar period and is shown as written.

Which zone (``resolve_zone``): ``--tz``, else ``TRACKER_TZ``, else the config file's ``tz``,
else the one the tracked dossiers set (an optional ``timezone`` on a dossier's
``policy.tracked`` data, when they agree), else the system's.

Renderers ask ``shown_zone()``; the command line says which zone that is for the command it runs
(``showing``), lazily, so a command that shows no time never looks the zone up. Outside the
command line (tests, library use) times are shown in UTC.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from tracker.errors import UsageError

ZONE_ENV: Final = "TRACKER_TZ"
#: A fixed offset: "+08:00", "-0530", "UTC+8", "UTC-05:30".
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", re.I)
_MAX_NAME = 64

_resolver: ContextVar[Callable[[], tzinfo] | None] = ContextVar("tracker_shown_zone",
                                                                default=None)


def _shown_name(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def zone_named(name: str, origin: str = "time zone") -> tzinfo:
    """The zone ``name`` means: an IANA name (Asia/Hong_Kong), UTC, or a fixed offset (+08:00).

    Raises ``UsageError`` naming ``origin`` (``--tz``, ``TRACKER_TZ``...) for anything else.
    """
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT", "ETC/UTC"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta < timedelta(hours=24):
            return timezone(-delta if sign == "-" else delta)
    elif text and len(text) <= _MAX_NAME:
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(text)
        except (KeyError, ValueError, OSError):  # unknown, a path, a directory, a NUL byte
            pass
    raise UsageError(f"unknown time zone {_shown_name(name)} ({origin}): use an IANA name such "
                     "as Asia/Hong_Kong or Europe/London, UTC, or an offset such as +08:00")


def system_zone() -> tzinfo:
    """The zone this machine is set to (``TZ``, /etc/localtime...); UTC when none is found."""
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except Exception:  # a broken TZ or /etc/localtime: the local offset of this moment
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC


def explicit_zone(flag: str | None, environ: Mapping[str, str],
                  config_value: str | None) -> tzinfo | None:
    """The zone the user chose (``--tz``, else ``TRACKER_TZ``, else the config's ``tz``), or
    None when they chose none. An unknown name is refused, naming where it came from."""
    for value, origin in ((flag, "--tz"), (environ.get(ZONE_ENV), ZONE_ENV),
                          (config_value, "the config file's tz")):
        if value is not None and value.strip():
            return zone_named(value, origin)
    return None


def resolve_zone(flag: str | None, environ: Mapping[str, str], config_value: str | None,
                 dossier_value: str | None = None) -> tzinfo:
    """The zone times are read and shown in: the user's choice, else the dossiers' own zone
    (``dossier_value``, see ``agreed_zone``), else the system's."""
    chosen = explicit_zone(flag, environ, config_value)
    if chosen is not None:
        return chosen
    if dossier_value:
        with contextlib.suppress(UsageError):  # a name this machine's tz database lacks
            return zone_named(dossier_value, "the dossier's timezone")
    return system_zone()


def agreed_zone(names: Iterable[object]) -> str | None:
    """The ``timezone`` the tracked dossiers set, when those that set one agree; else None."""
    found = {str(n).strip() for n in names if isinstance(n, str) and n.strip()}
    return found.pop() if len(found) == 1 else None


# -- the zone times are shown in ----------------------------------------------------------------


@contextlib.contextmanager
def showing(zone: tzinfo | Callable[[], tzinfo]) -> Iterator[None]:
    """Show times in ``zone`` (or the zone a callable gives when first asked) inside the block."""
    resolve = zone if callable(zone) and not isinstance(zone, tzinfo) else _constant(zone)
    token = _resolver.set(_cached(resolve))
    try:
        yield
    finally:
        _resolver.reset(token)


def _constant(zone: tzinfo) -> Callable[[], tzinfo]:
    return lambda: zone


def _cached(resolve: Callable[[], tzinfo]) -> Callable[[], tzinfo]:
    found: list[tzinfo] = []

    def cached() -> tzinfo:
        if not found:
            found.append(resolve())
        return found[0]

    return cached


def shown_zone() -> tzinfo:
    """The zone times are shown in: the command's (see ``showing``), else UTC."""
    resolve = _resolver.get()
    return resolve() if resolve is not None else UTC


# -- times as text ------------------------------------------------------------------------------


def abbreviation(local: datetime) -> str:
    """The zone of an aware ``local`` time as a reader knows it: "HKT", "UTC", else "+08:00"."""
    name = local.tzname() or ""
    if name and name[0] not in "+-" and not name.startswith("UTC+") \
            and not name.startswith("UTC-"):
        return name
    offset = local.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def local(value: datetime | str, zone: tzinfo | None = None) -> datetime:
    """``value`` (an aware datetime, a naive one taken as UTC, or ISO text) in ``zone``."""
    return _aware(value).astimezone(zone or shown_zone())


def instant_text(value: datetime | str, zone: tzinfo | None = None, *,
                 seconds: bool | None = None) -> str:
    """An instant as a reader sees it: "2025-05-03 07:00 HKT", with seconds when it has some
    (``seconds`` True or False: always or never); never microseconds."""
    here = local(value, zone)
    with_seconds = bool(here.second or here.microsecond) if seconds is None else seconds
    clock = here.strftime("%H:%M:%S" if with_seconds else "%H:%M")
    return f"{here.strftime('%Y-%m-%d')} {clock} {abbreviation(here)}"


def day_text(value: datetime | str, zone: tzinfo | None = None) -> str:
    """The day an instant falls on in ``zone``: "2025-05-03"."""
    return local(value, zone).strftime("%Y-%m-%d")


def when_text(value: object, precision: object = None, zone: tzinfo | None = None) -> str:
    """A date from the record as a reader sees it: a year, month or day as written ("2025",
    "2025-04", "2025-04-30"), "undated", and an instant in the zone shown (``instant_text``).
    Text that is no ISO instant is returned as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        if precision in (None, "instant"):
            return instant_text(value, zone)
        from tracker.dates import date_label

        return date_label(value, str(precision))
    text = str(value)
    if precision not in (None, "instant") or len(text) < 11 or "T" not in text:
        return text
    try:
        return instant_text(text, zone)
    except ValueError:
        return text
