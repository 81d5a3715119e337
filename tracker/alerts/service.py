"""Alert channels and delivery: the application functions behind ``tracker alerts ...``.

``send`` reads the log, works out what each channel still has to receive (``changes`` and
``outbox``, both pure), delivers it with retries, and records each delivery as its own event
right after the receiver took it. Everything sent was committed before (it is read from the
log); a crash before a delivery is recorded leaves the change pending, so it is sent again, at
most once more, under the same idempotency key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tracker.alerts.changes import KINDS, TYPES, Change, changes
from tracker.alerts.channels import (
    DeliveryError,
    Senders,
    check_env_name,
    parse_target,
    with_retries,
)
from tracker.alerts.outbox import (
    CHANNEL_KINDS,
    DIGEST,
    WEBHOOK,
    Channel,
    Deliveries,
    channels,
    checkpoint_event,
    cursor,
    delivered_event,
    deliveries,
    failed_event,
    idempotency_key,
    pending,
    stream,
    through,
)
from tracker.alerts.settings import AlertSettings
from tracker.app import Tracker
from tracker.catalogue import (
    ALERT_CHANNEL_ADDED,
    ALERT_CHANNEL_REMOVED,
    ALERT_TYPES,
    POLICY_TRACKED,
)
from tracker.dates import iso
from tracker.db import masked, retrying, write_connection
from tracker.errors import (
    EXIT_OK,
    EXIT_SOME_ALERTS_FAILED,
    AlreadyError,
    TrackerError,
    UsageError,
)
from tracker.events import NewEvent, RecordedEvent
from tracker.seeding import packaged_acceptance_policy

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

#: Called after a change was sent and before its delivery is recorded (tests crash here).
AfterSend = Callable[[Channel, Change], None]


def _alert_events(tracker: Tracker, conn: Any = None) -> list[RecordedEvent]:
    return list(tracker.store.read(types=sorted(ALERT_TYPES), conn=conn))


def _writable(tracker: Tracker, action: str) -> None:
    if tracker.read_only:
        raise TrackerError(f"cannot {action}: {masked(tracker.url)} is read-only here")


def parse_on(values: Iterable[str]) -> tuple[str, ...]:
    """``--on`` values (repeatable, comma-separated; ``all``) as kinds of change."""
    wanted: list[str] = []
    for value in values:
        for part in value.split(","):
            kind = part.strip()
            if not kind:
                continue
            if kind == "all":
                wanted += KINDS
            elif kind in KINDS:
                wanted.append(kind)
            else:
                raise UsageError(f"--on {kind[:40]!r}: one of all, {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in wanted) or KINDS


def channels_in_use(tracker: Tracker) -> dict[str, Channel]:
    return channels(_alert_events(tracker))


def add_channel(tracker: Tracker, name: str, target: str, *, on: Sequence[str] = (),
                policy_id: str | None = None, secret_env: str | None = None,
                allow_private: bool = False, min_score: float | None = None) -> Channel:
    """Record a channel. It starts from the log's current end: only later changes reach it,
    so a new channel is never flooded with the history."""
    _writable(tracker, "add an alert channel")
    if not _NAME.fullmatch(name):
        raise UsageError(f"alert channel name {name[:40]!r}: use letters, digits, '.', '_' or "
                         "'-' (at most 64)")
    kind, target = parse_target(target, allow_private)
    kinds = parse_on(on)
    if secret_env is not None:
        check_env_name(secret_env)
        if kind != WEBHOOK:
            raise UsageError("--secret-env signs webhooks: it does not apply to "
                             f"{kind} channels")
    if min_score is not None and (min_score != min_score or abs(min_score) == float("inf")):
        raise UsageError("--min-score must be a finite number")
    if policy_id is not None:
        tracked = {str(e.data.get("policy_id")) for e in tracker.store.read(
            types=[POLICY_TRACKED])}
        if policy_id not in tracked:
            known = ", ".join(sorted(tracked)) or "none"
            raise UsageError(f"no tracked policy {policy_id[:80]!r} (tracked: {known})")
    data: dict[str, Any] = {"name": name, "kind": kind, "target": target, "on": list(kinds)}
    if policy_id is not None:
        data["policy_id"] = policy_id
    if secret_env is not None:
        data["secret_env"] = secret_env
    if allow_private:
        data["allow_private"] = True
    if min_score is not None:
        data["min_score"] = min_score
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        if name in channels(_alert_events(tracker, conn)):
            raise AlreadyError(f"alert channel {name!r} exists: remove it first "
                               f"(`tracker alerts remove {name}`)")
        data["since"] = tracker.store.head(conn=conn)
        tracker.store.append_in(conn, stream(name), [NewEvent(
            ALERT_CHANNEL_ADDED, data, tracker.now(), meta={"actor": "cli"})])
    return channels_in_use(tracker)[name]


def remove_channel(tracker: Tracker, name: str) -> Channel:
    _writable(tracker, "remove an alert channel")
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        found = channels(_alert_events(tracker, conn)).get(name)
        if found is None:
            raise UsageError(f"no alert channel named {name[:80]!r} (see `tracker alerts list`)")
        tracker.store.append_in(conn, stream(name), [NewEvent(
            ALERT_CHANNEL_REMOVED, {"name": name, "channel_id": found.channel_id},
            tracker.now(), meta={"actor": "cli"})])
    return found


# -- the outbox ---------------------------------------------------------------------------------


@dataclass
class Outbox:
    """The channels, what was delivered to them, and the changes not yet settled for all."""

    channels: dict[str, Channel]
    deliveries: dict[str, Deliveries]
    changes: list[Change]
    #: The log position the changes were computed up to.
    scanned: int
    min_story_score: float

    def delivered(self, channel: Channel) -> Deliveries | None:
        return self.deliveries.get(channel.channel_id)

    def pending(self, channel: Channel) -> list[Change]:
        return pending(channel, self.changes, self.delivered(channel), self.min_story_score)


def outbox(tracker: Tracker, settings: AlertSettings,
           names: Collection[str] | None = None) -> Outbox:
    """What every channel (or those ``names``) still has to receive. Changes are computed from
    the earliest position a channel has not settled yet; the fold before it is cheap."""
    events = _alert_events(tracker)
    found = channels(events)
    if names is not None:
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise UsageError(f"no alert channel named {unknown[0][:80]!r} "
                             "(see `tracker alerts list`)")
        found = {name: c for name, c in found.items() if name in names}
    done = deliveries(events)
    scanned = tracker.store.head()
    box = Outbox(found, done, [], scanned, settings.min_story_score)
    if not found:
        return box
    start = min(cursor(c, done.get(c.channel_id)) for c in found.values())
    if start >= scanned:
        return box
    log = tracker.store.read(types=sorted(TYPES), until_position=scanned)
    try:
        box.changes = changes(log, after=start, default_policy=packaged_acceptance_policy())
    except ValueError as exc:  # an acceptance policy in the log that cannot be used
        raise TrackerError(f"cannot work out what changed: {exc}") from None
    return box


def list_channels(tracker: Tracker, settings: AlertSettings) -> list[dict[str, Any]]:
    """Each channel, with what it received, what waits for it and its last failure."""
    box = outbox(tracker, settings)
    rows = []
    for name in sorted(box.channels):
        channel = box.channels[name]
        done = box.delivered(channel) or Deliveries()
        failure = done.last_failure
        rows.append({**channel.as_dict(), "delivered": done.count,
                     "pending": len(box.pending(channel)),
                     "last_delivered_at": iso(done.last_delivered_at)
                     if done.last_delivered_at else None,
                     "last_failure": failure.get("error") if failure else None,
                     "last_failure_at": iso(done.last_failure_at)
                     if failure and done.last_failure_at else None})
    return rows


# -- sending ------------------------------------------------------------------------------------


@dataclass
class ChannelOutcome:
    name: str
    kind: str
    delivered: int = 0
    pending: int = 0
    error: str | None = None
    attempts: int = 0

    def line(self) -> str:
        if self.error is not None:
            return (f"{self.name}: failed after {self.attempts} attempt(s): {self.error} "
                    f"({self.pending} pending)")
        return f"{self.name}: {self.delivered} delivered"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "delivered": self.delivered,
                "pending": self.pending, "error": self.error, "attempts": self.attempts}


@dataclass
class SendSummary:
    outcomes: list[ChannelOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[ChannelOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def delivered(self) -> int:
        return sum(o.delivered for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_ALERTS_FAILED if self.failed else EXIT_OK

    def line(self) -> str:
        text = (f"alerts: {len(self.outcomes)} channel(s), {self.delivered} delivered, "
                f"{len(self.failed)} failed")
        if self.failed:
            text += " (" + "; ".join(o.line() for o in self.failed) + ")"
        return text

    def report(self) -> dict[str, Any]:
        return {"channels": [o.as_dict() for o in self.outcomes], "delivered": self.delivered,
                "failed": len(self.failed)}


@retrying
def _record(tracker: Tracker, channel: Channel, events: Sequence[NewEvent]) -> None:
    """Append deliveries and failures; a delivery already recorded (another sender got there
    first) is left as it is."""
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        stored = tracker.store.by_ids([e.event_id for e in events], conn=conn)
        fresh = [e for e in events if e.event_id not in stored]
        if fresh:
            tracker.store.append_in(conn, stream(channel.name), fresh)


def send(tracker: Tracker, settings: AlertSettings, senders: Senders, *,
         kinds: Collection[str] = CHANNEL_KINDS, names: Collection[str] | None = None,
         after_send: AfterSend | None = None) -> SendSummary:
    """Deliver what is pending to each channel (of ``kinds``; or only ``names``), oldest
    first. A change that still fails after the retries is recorded as ``alert.failed`` and
    stops that channel for this run (its receiver is down; order is kept); it stays pending."""
    _writable(tracker, "send alerts")
    box = outbox(tracker, settings, names)
    summary = SendSummary()
    for name in sorted(box.channels):
        channel = box.channels[name]
        if channel.kind not in kinds:
            continue
        outcome = ChannelOutcome(name, channel.kind)
        summary.outcomes.append(outcome)
        todo = box.pending(channel)
        if not todo:
            checkpoint = checkpoint_event(channel, box.delivered(channel), box.scanned,
                                          tracker.now())
            if checkpoint is not None:
                _record(tracker, channel, [checkpoint])
            continue
        if channel.kind == DIGEST:
            _send_digest(tracker, channel, todo, box.scanned, senders, outcome)
        else:
            _send_each(tracker, channel, todo, box.scanned, settings, senders, outcome,
                       after_send)
    return summary


def _send_each(tracker: Tracker, channel: Channel, todo: list[Change], scanned: int,
               settings: AlertSettings, senders: Senders, outcome: ChannelOutcome,
               after_send: AfterSend | None) -> None:
    sender = senders.for_kind(channel.kind)
    for index, change in enumerate(todo):
        key = idempotency_key(channel, change)
        try:
            response, attempts = with_retries(partial(sender.send, channel, change, key),
                                              settings, senders.sleep)
        except DeliveryError as exc:
            outcome.error, outcome.attempts = str(exc), exc.attempts
            outcome.pending = len(todo) - index
            _record(tracker, channel, [failed_event(
                channel, change, error=str(exc), attempts=exc.attempts,
                pending_count=outcome.pending, now=tracker.now())])
            return
        if after_send is not None:
            after_send(channel, change)
        _record(tracker, channel, [delivered_event(
            channel, change, attempts=attempts, response=response,
            through_position=through(todo[index + 1:], scanned), now=tracker.now())])
        outcome.delivered += 1
        outcome.attempts = attempts


def _send_digest(tracker: Tracker, channel: Channel, todo: list[Change], scanned: int,
                 senders: Senders, outcome: ChannelOutcome) -> None:
    keys = [idempotency_key(channel, c) for c in todo]
    try:
        response = senders.digest.send_all(channel, todo, keys)
    except DeliveryError as exc:
        outcome.error, outcome.attempts, outcome.pending = str(exc), 1, len(todo)
        _record(tracker, channel, [failed_event(channel, todo[0], error=str(exc), attempts=1,
                                                pending_count=len(todo), now=tracker.now())])
        return
    now = tracker.now()
    _record(tracker, channel, [
        delivered_event(channel, change, attempts=1, response=response,
                        through_position=through(todo[index + 1:], scanned), now=now)
        for index, change in enumerate(todo)])
    outcome.delivered, outcome.attempts = len(todo), 1


def test_change(tracker: Tracker) -> Change:
    """A made-up change for ``alerts test``: it names no real policy and is never recorded."""
    now = tracker.now()
    return Change(change_id=f"test-{uuid.uuid4()}", kind="test", position=tracker.store.head(),
                  event_id="", recorded_at=now, policy_id="test",
                  policy_title="tracker alert test", slot=None, before=None,
                  after="this channel works", world_date=iso(now), precision="instant",
                  decided_by=None, sources=())


def send_test(tracker: Tracker, name: str, senders: Senders) -> str:
    """Send one test notification to ``name`` now (one attempt, nothing recorded); returns
    the receiver's answer."""
    channel = channels_in_use(tracker).get(name)
    if channel is None:
        raise UsageError(f"no alert channel named {name[:80]!r} (see `tracker alerts list`)")
    change = test_change(tracker)
    key = change.change_id
    try:
        return senders.for_kind(channel.kind).send(channel, change, key, test=True)
    except DeliveryError as exc:
        raise TrackerError(f"test alert to {name} failed: {exc}") from None
