"""The outbox: which changes each channel still has to receive. Pure.

Channels and deliveries are events (``alert.channel_added``, ``alert.channel_removed``,
``alert.delivered``, ``alert.failed``). A change is pending for a channel when it came after
the position the channel started from, matches the channel's filters, and has no
``alert.delivered`` for that channel. Nothing else is stored: a crash anywhere leaves the
change pending, and the next run sends it again under the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from tracker.alerts.changes import STORY_NEW, Change
from tracker.catalogue import (
    ALERT_CHANNEL_ADDED,
    ALERT_CHANNEL_REMOVED,
    ALERT_CHECKPOINT,
    ALERT_DELIVERED,
    ALERT_FAILED,
)
from tracker.events import NewEvent, RecordedEvent, deterministic_id

WEBHOOK: Final = "webhook"
EMAIL: Final = "email"
DIGEST: Final = "digest"
CHANNEL_KINDS: Final = (WEBHOOK, EMAIL, DIGEST)


def stream(name: str) -> str:
    """The stream of one channel's events."""
    return f"alert:{name}"


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel in use, as its ``alert.channel_added`` set it."""

    name: str
    kind: str
    target: str
    on: tuple[str, ...]
    since: int
    channel_id: str
    policy_id: str | None = None
    secret_env: str | None = None
    allow_private: bool = False
    min_score: float | None = None

    def wants(self, change: Change, default_min_score: float) -> bool:
        """Whether ``change`` is for this channel (its kinds, policy and story score)."""
        if change.position <= self.since or change.kind not in self.on:
            return False
        if self.policy_id is not None and change.policy_id != self.policy_id:
            return False
        if change.kind == STORY_NEW:
            floor = self.min_score if self.min_score is not None else default_min_score
            return change.score is not None and change.score >= floor
        return True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "target": self.target,
                "on": list(self.on), "policy_id": self.policy_id,
                "secret_env": self.secret_env, "allow_private": self.allow_private,
                "min_score": self.min_score, "since": self.since}


@dataclass(slots=True)
class Deliveries:
    """What the log says was delivered to, or failed for, one channel."""

    delivered: set[str] = field(default_factory=set)
    through: int = 0
    count: int = 0
    last_delivered_at: datetime | None = None
    last_failure: Mapping[str, Any] | None = None
    last_failure_at: datetime | None = None


def channels(events: Iterable[RecordedEvent]) -> dict[str, Channel]:
    """The channels in use after ``events`` (the log's alert channel events, in order)."""
    out: dict[str, Channel] = {}
    for event in events:
        data = event.data
        name = str(data.get("name"))
        if event.type == ALERT_CHANNEL_ADDED:
            score = data.get("min_score")
            out[name] = Channel(
                name=name, kind=str(data["kind"]), target=str(data["target"]),
                on=tuple(str(k) for k in data.get("on") or ()), since=int(data["since"]),
                channel_id=event.event_id, policy_id=data.get("policy_id"),
                secret_env=data.get("secret_env"), allow_private=bool(data.get("allow_private")),
                min_score=float(score) if score is not None else None)
        elif event.type == ALERT_CHANNEL_REMOVED:
            out.pop(name, None)
    return out


def deliveries(events: Iterable[RecordedEvent]) -> dict[str, Deliveries]:
    """Per channel id, what was delivered and the last failure since the last delivery."""
    out: dict[str, Deliveries] = {}
    for event in events:
        if event.type not in (ALERT_DELIVERED, ALERT_FAILED, ALERT_CHECKPOINT):
            continue
        found = out.setdefault(str(event.data.get("channel_id")), Deliveries())
        if event.type == ALERT_CHECKPOINT:
            found.through = max(found.through, int(event.data["through"]))
        elif event.type == ALERT_DELIVERED:
            found.delivered.add(str(event.data["change_id"]))
            found.through = max(found.through, int(event.data.get("through") or 0))
            found.count += 1
            found.last_delivered_at = event.recorded_at
            found.last_failure = None
        else:
            found.last_failure = dict(event.data)
            found.last_failure_at = event.recorded_at
    return out


def cursor(channel: Channel, delivered: Deliveries | None) -> int:
    """The position up to which every change for ``channel`` is settled: changes are computed
    after it (those before were all delivered, or came before the channel)."""
    return max(channel.since, delivered.through if delivered is not None else 0)


def pending(channel: Channel, changes: Sequence[Change], delivered: Deliveries | None,
            default_min_score: float) -> list[Change]:
    """The changes ``channel`` has yet to receive, oldest first."""
    done = delivered.delivered if delivered is not None else set()
    start = cursor(channel, delivered)
    return [c for c in changes if c.position > start and c.change_id not in done
            and channel.wants(c, default_min_score)]


def idempotency_key(channel: Channel, change: Change) -> str:
    """The same for every attempt to deliver ``change`` to ``channel``, in any run: a
    receiver that sees it twice has seen the change twice."""
    return deterministic_id("alert.delivery", channel.channel_id, change.change_id)


def through(remaining: Sequence[Change], scanned: int) -> int:
    """The position up to which every change is delivered once ``remaining`` (still pending,
    oldest first) are left: just before the first of them, or all that was scanned."""
    return remaining[0].position - 1 if remaining else scanned


def delivered_event(channel: Channel, change: Change, *, attempts: int, response: str,
                    through_position: int, now: datetime) -> NewEvent:
    """The record of one delivery; its id follows the key, so it is recorded once."""
    key = idempotency_key(channel, change)
    return NewEvent(ALERT_DELIVERED, {
        "name": channel.name, "channel_id": channel.channel_id, "change_id": change.change_id,
        "kind": change.kind, "position": change.position, "event_id": change.event_id,
        "idempotency_key": key, "attempts": attempts, "response": response,
        "through": through_position}, now, meta={"actor": "alerts"},
        event_id=deterministic_id("alert.delivered", key))


#: A channel whose start lags the log by more than this many positions, with nothing pending,
#: gets an ``alert.checkpoint``: the changes before it are not worked out again.
CHECKPOINT_LAG: Final = 1000


def checkpoint_event(channel: Channel, delivered: Deliveries | None, scanned: int,
                     now: datetime) -> NewEvent | None:
    """The checkpoint a channel with nothing pending up to ``scanned`` needs, if its start
    lags that far behind (None otherwise: most runs record nothing)."""
    if scanned - cursor(channel, delivered) <= CHECKPOINT_LAG:
        return None
    return NewEvent(ALERT_CHECKPOINT, {"name": channel.name, "channel_id": channel.channel_id,
                                       "through": scanned}, now, meta={"actor": "alerts"})


def failed_event(channel: Channel, change: Change | None, *, error: str, attempts: int,
                 pending_count: int, now: datetime) -> NewEvent:
    data: dict[str, Any] = {"name": channel.name, "channel_id": channel.channel_id,
                            "error": error, "attempts": attempts, "pending": pending_count}
    if change is not None:
        data |= {"change_id": change.change_id, "position": change.position,
                 "idempotency_key": idempotency_key(channel, change)}
    return NewEvent(ALERT_FAILED, data, now, meta={"actor": "alerts"})
