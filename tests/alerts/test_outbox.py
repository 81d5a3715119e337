"""The outbox, pure: channels from their events, what each still has to receive, and where the
next run may start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.events import recorded
from tracker.alerts.changes import CLAIM_PENDING, FACT_ACCEPTED, KINDS, STORY_NEW, Change
from tracker.alerts.outbox import (
    CHECKPOINT_LAG,
    Channel,
    channels,
    checkpoint_event,
    cursor,
    delivered_event,
    deliveries,
    idempotency_key,
    pending,
    through,
)
from tracker.events import NewEvent

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def change(position: int, kind: str = FACT_ACCEPTED, policy: str = "p", score: float | None = None,
           n: int = 0) -> Change:
    return Change(change_id=f"c{position}-{kind}-{n}", kind=kind, position=position,
                  event_id=f"e{position}", recorded_at=NOW, policy_id=policy,
                  policy_title=None, slot="s", before=None, after=1, world_date=None,
                  precision=None, decided_by=None, sources=(), score=score)


def channel(**changes: Any) -> Channel:
    fields: dict[str, Any] = {"name": "hook", "kind": "webhook", "target": "https://h.example/",
                              "on": KINDS, "since": 10, "channel_id": "ch-1", **changes}
    return Channel(**fields)


def test_channels_are_added_and_removed_by_their_events() -> None:
    events = recorded([
        ("alert:a", NewEvent("alert.channel_added", {"name": "a", "kind": "digest",
                                                     "target": "digest", "on": list(KINDS),
                                                     "since": 4}, NOW)),
        ("alert:b", NewEvent("alert.channel_added", {
            "name": "b", "kind": "webhook", "target": "https://h.example/", "on": [STORY_NEW],
            "since": 5, "policy_id": "p", "secret_env": "S", "allow_private": True,
            "min_score": 12}, NOW)),
        ("alert:a", NewEvent("alert.channel_removed", {"name": "a"}, NOW)),
    ])
    [b] = channels(events).values()
    assert (b.name, b.on, b.since, b.policy_id, b.secret_env, b.allow_private, b.min_score) == (
        "b", (STORY_NEW,), 5, "p", "S", True, 12.0)
    assert b.channel_id == events[1].event_id


def test_a_channel_wants_its_kinds_and_policy_after_its_start_and_stories_above_a_score(
        ) -> None:
    hook = channel(on=(FACT_ACCEPTED, STORY_NEW), policy_id="p", min_score=12)
    assert not hook.wants(change(10), 5)          # at or before its start: the history
    assert hook.wants(change(11), 5)
    assert not hook.wants(change(11, CLAIM_PENDING), 5)
    assert not hook.wants(change(11, policy="q"), 5)
    assert hook.wants(change(11, STORY_NEW, score=12), 5)
    assert not hook.wants(change(11, STORY_NEW, score=11.5), 5)
    assert channel().wants(change(11, STORY_NEW, score=5), 5)      # the default floor
    assert not channel().wants(change(11, STORY_NEW, score=4), 5)


def test_pending_is_what_was_not_delivered_and_the_cursor_moves_only_over_delivered() -> None:
    hook = channel()
    found = [change(11), change(12), change(12, CLAIM_PENDING), change(15)]
    assert pending(hook, found, None, 10) == found
    assert through(found[1:], 20) == 11 and through([], 20) == 20
    first = delivered_event(hook, found[0], attempts=1, response="HTTP 200",
                            through_position=through(found[1:], 20), now=NOW)
    second = delivered_event(hook, found[1], attempts=2, response="HTTP 200",
                             through_position=through(found[2:], 20), now=NOW)
    done = deliveries(recorded([("alert:hook", first), ("alert:hook", second)]))["ch-1"]
    # the second change at 12 is still pending, so the cursor stops just before 12
    assert (done.count, done.through, cursor(hook, done)) == (2, 11, 11)
    assert pending(hook, found, done, 10) == found[2:]
    assert first.data["idempotency_key"] == idempotency_key(hook, found[0])
    assert first.event_id == delivered_event(hook, found[0], attempts=3, response="x",
                                             through_position=0, now=NOW).event_id


def test_keys_differ_by_channel_and_change_and_never_by_run() -> None:
    a, b = channel(), channel(channel_id="ch-2")
    assert idempotency_key(a, change(11)) == idempotency_key(a, change(11))
    assert len({idempotency_key(a, change(11)), idempotency_key(b, change(11)),
                idempotency_key(a, change(12))}) == 3


def test_a_quiet_channel_far_behind_gets_a_checkpoint_and_others_do_not() -> None:
    hook = channel(since=10)
    assert checkpoint_event(hook, None, 10 + CHECKPOINT_LAG, NOW) is None
    event = checkpoint_event(hook, None, 11 + CHECKPOINT_LAG, NOW)
    assert event is not None and event.data["through"] == 11 + CHECKPOINT_LAG
    done = deliveries(recorded([("alert:hook", event)]))["ch-1"]
    assert cursor(hook, done) == 11 + CHECKPOINT_LAG and done.count == 0
