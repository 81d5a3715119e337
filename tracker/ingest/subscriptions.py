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

MIN_INTERVAL_S = 60
DEFAULT_INTERVAL_S = 30 * 60
MAX_PUBLISHER_CHARS = 100
_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)", re.I)
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

    def __post_init__(self) -> None:
        if not self.publisher:
            object.__setattr__(self, "publisher", self.name)


def parse_interval(text: str) -> int:
    """``30m``, ``1h``, ``1h30m``, ``90s``, ``1d`` -> seconds (at least one minute)."""
    raw = text.strip().lower()
    parts = _DURATION.findall(raw)
    if not parts or _DURATION.sub("", raw).strip():
        raise UsageError(f"cannot read interval {text!r}: use forms like 30m, 1h, 1h30m, 1d")
    seconds = sum(int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < MIN_INTERVAL_S:
        raise UsageError(f"interval {text!r} is under the minimum of 1m")
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


def check_url(url: str, allow_local: bool) -> str:
    """http(s) URLs always; ``file://`` URLs or paths only when the user allowed local files."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme in ("", "file"):
        if not allow_local:
            raise UsageError(f"{url!r} is a local file: pass --allow-local to follow local files")
        path = Path(parts.path if parts.scheme == "file" else url).expanduser().resolve()
        return path.as_uri()
    raise UsageError(f"feed URL {url!r} must be http(s)")


def evolve(subs: Mapping[str, Subscription], event: RecordedEvent) -> dict[str, Subscription]:
    data: Mapping[str, Any] = event.data
    out = dict(subs)
    name = str(data.get("name", ""))
    if event.type == FEED_SUBSCRIBED:
        out[name] = Subscription(name, str(data["url"]), int(data["every_seconds"]),
                                 tuple(data.get("tags") or ()), bool(data.get("allow_local")),
                                 event.position, str(data.get("publisher") or name),
                                 str(data.get("tier") or DEFAULT_TIER))
    elif event.type == FEED_CHANGED and name in out:
        current = out[name]
        out[name] = replace(
            current,
            url=str(data.get("url") or current.url),
            every_seconds=int(data.get("every_seconds") or current.every_seconds),
            tags=tuple(data["tags"]) if data.get("tags") is not None else current.tags,
            publisher=str(data.get("publisher") or current.publisher),
            tier=str(data.get("tier") or current.tier),
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
