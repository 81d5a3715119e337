"""Feed subscriptions are events in the log; the current set is a fold over them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tracker.catalogue import (
    FEED_CHANGED,
    FEED_SUBSCRIBED,
    FEED_UNSUBSCRIBED,
    SUBSCRIPTION_TYPES,
)
from tracker.claims import DEFAULT_TIER, TIERS, is_tier
from tracker.errors import UsageError
from tracker.events import RecordedEvent
from tracker.ingest import netpolicy
from tracker.when import DURATION_FORMS, DurationError, duration_seconds

MIN_INTERVAL_S = 60
#: A feed polled less than once a year is not followed; a bound keeps due times in range.
MAX_INTERVAL_S = 365 * 86400
DEFAULT_INTERVAL_S = 30 * 60
MAX_PUBLISHER_CHARS = 100
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    url: str
    every_seconds: int
    tags: tuple[str, ...] = ()
    allow_local: bool = False
    position: int = 0
    #: Who publishes the feed; empty means the feed's own name (as in logs before publishers).
    publisher: str = ""
    tier: str = DEFAULT_TIER
    #: Internal network addresses may be fetched (``--allow-private``): intranet feeds, tests.
    allow_private: bool = False

    def __post_init__(self) -> None:
        if not self.publisher:
            object.__setattr__(self, "publisher", self.name)


def parse_interval(text: str) -> int:
    """A polling interval in seconds, one minute to 365 days, in the duration grammar every
    option shares (``tracker.when.duration_seconds``): ``30m``, ``1h30m``, ``1d12h``, ``1w``."""
    shown = repr(text if len(text) <= 40 else text[:40] + "...")
    try:
        seconds = duration_seconds(text)
    except DurationError as exc:
        if not exc.too_large:
            raise UsageError(f"cannot read interval {shown}: use a duration such as "
                             f"{DURATION_FORMS}") from None
        seconds = MAX_INTERVAL_S + 1
    if seconds > MAX_INTERVAL_S:
        raise UsageError(f"interval {shown} is over the maximum of 365d")
    if seconds < MIN_INTERVAL_S:
        raise UsageError(f"interval {shown} is under the minimum of 1m")
    return seconds


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"feed name {name!r}: use letters, digits, '.', '_' or '-'")
    return name


def check_tier(tier: str) -> str:
    if not is_tier(tier):
        raise UsageError(f"unknown tier {tier!r}: one of {', '.join(TIERS)}")
    return tier


def check_publisher(publisher: str) -> str:
    """A publisher is named as people write it ("Xinhua", "RTHK"), on one line."""
    name = " ".join(publisher.split())
    if not name or len(name) > MAX_PUBLISHER_CHARS:
        raise UsageError(f"publisher {publisher!r}: give a name of 1 to "
                         f"{MAX_PUBLISHER_CHARS} characters")
    return name


def check_url(url: str, allow_local: bool, allow_private: bool = False) -> str:
    """http(s) URLs always, but not to an address that is internal as written unless the user
    allowed private addresses (fetching checks what names resolve to); ``file://`` URLs or
    paths only when the user allowed local files. Credentials are refused, not stored: the
    log keeps every URL for good and prints it to anyone who reads it."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"cannot read feed URL {netpolicy.redact(url)!r}: {exc}") from None
    if parts.scheme in ("http", "https") and parts.netloc:
        if netpolicy.has_credentials(url):
            raise UsageError("feed URL carries credentials (user:password@): the log would "
                             "keep them; give the URL without them")
        reason = None if allow_private else netpolicy.internal_host(parts.hostname or "")
        if reason:
            raise UsageError(f"refused: {reason} ({netpolicy.HINT})")
        return url
    shown = netpolicy.redact(url)
    if parts.scheme in ("", "file"):
        if not allow_local:
            raise UsageError(f"{shown!r} is a local file: pass --allow-local to follow local "
                             f"files")
        path = Path(parts.path if parts.scheme == "file" else url).expanduser().resolve()
        return path.as_uri()
    raise UsageError(f"feed URL {shown!r} must be http(s)")


def evolve(subs: Mapping[str, Subscription], event: RecordedEvent) -> dict[str, Subscription]:
    data: Mapping[str, Any] = event.data
    out = dict(subs)
    name = str(data.get("name", ""))
    if event.type == FEED_SUBSCRIBED:
        out[name] = Subscription(name, str(data["url"]), int(data["every_seconds"]),
                                 tuple(data.get("tags") or ()), bool(data.get("allow_local")),
                                 event.position, str(data.get("publisher") or name),
                                 str(data.get("tier") or DEFAULT_TIER),
                                 bool(data.get("allow_private")))
    elif event.type == FEED_CHANGED and name in out:
        current = out[name]
        out[name] = replace(
            current,
            url=str(data.get("url") or current.url),
            every_seconds=int(data.get("every_seconds") or current.every_seconds),
            tags=tuple(data["tags"]) if data.get("tags") is not None else current.tags,
            publisher=str(data.get("publisher") or current.publisher),
            tier=str(data.get("tier") or current.tier),
            allow_private=current.allow_private or bool(data.get("allow_private")),
            position=event.position)
    elif event.type == FEED_UNSUBSCRIBED:
        out.pop(name, None)
    return out


def current(events: Iterable[RecordedEvent]) -> dict[str, Subscription]:
    subs: dict[str, Subscription] = {}
    for event in events:
        if event.type in SUBSCRIPTION_TYPES:
            subs = evolve(subs, event)
    return subs
