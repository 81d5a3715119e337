"""Delivery against a real log, on SQLite and PostgreSQL: each change reaches each channel
once, across runs, a crash between sending and recording, a receiver that fails and recovers;
signatures verify; internal addresses are refused; digests print; email goes over SMTP.

State changes are made as ingest and analysts make them (``fact.extracted`` claims appended
to the seeded dossier), never by writing alert events by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alerts.conftest import (
    SECRET,
    Mailbox,
    Out,
    Receiver,
    append,
    served,
    settings_for,
)
from tracker.alerts import service
from tracker.alerts.changes import (
    CLAIM_PENDING,
    FACT_ACCEPTED,
    FACT_DISPUTED,
    FACT_SUPERSEDED,
    STATUS_CHANGED,
)
from tracker.alerts.channels import Senders, verify
from tracker.alerts.outbox import CHECKPOINT_LAG
from tracker.alerts.settings import AlertSettings
from tracker.app import Tracker
from tracker.catalogue import CATALOGUE, missing_fields
from tracker.errors import EXIT_SOME_ALERTS_FAILED, AlreadyError, UsageError

MAY_21 = datetime(2025, 5, 21, tzinfo=UTC)
SEP_30 = datetime(2025, 9, 30, tzinfo=UTC)


def logged(tracker: Tracker, event_type: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in tracker.store.read(types=[event_type])]


def add_hook(tracker: Tracker, receiver: Receiver, **options: Any) -> None:
    service.add_channel(tracker, "hook", receiver.url, allow_private=True,
                        secret_env="HOOK_SECRET", **options)


def send(tracker: Tracker, senders: Senders, settings: AlertSettings | None = None,
         **options: Any) -> service.SendSummary:
    return service.send(tracker, settings or settings_for(), senders, **options)


def test_each_change_reaches_the_webhook_once_across_runs(tracker, receiver, senders) -> None:
    append(tracker, served(12, claim_id="before", as_of=MAY_21))  # before the channel: never sent
    add_hook(tracker, receiver)
    assert send(tracker, senders).delivered == 0
    append(tracker, served(40, claim_id="c40"),
           served(95, "Some blog", "unrated", claim_id="rumour", hedged=True, item="item-2"))
    first = send(tracker, senders)
    assert (first.delivered, first.failed, first.exit_code) == (2, [], 0)
    kinds = [r.json["change"]["kind"] for r in receiver.requests]
    assert kinds == [FACT_SUPERSEDED, FACT_DISPUTED]
    assert receiver.requests[0].json["change"]["before"] == 12    # a later world date
    second = send(tracker, senders)
    assert second.delivered == 0 and len(receiver.requests) == 2
    append(tracker, served(55, "SCMP", "press", claim_id="press", item="item-3",
                           as_of=SEP_30))
    assert send(tracker, senders).delivered == 1
    keys = receiver.keys()
    assert len(keys) == len(set(keys)) == 3
    delivered = logged(tracker, "alert.delivered")
    assert sorted(d["idempotency_key"] for d in delivered) == sorted(keys)
    assert receiver.requests[-1].json["change"]["kind"] == CLAIM_PENDING
    for event in tracker.store.read(types=sorted(t for t in CATALOGUE if t.startswith("alert."))):
        assert set(event.data) <= set(CATALOGUE[event.type].fields), event.type
        assert not missing_fields(event.type, event.data), event.type


def test_every_request_is_signed_over_timestamp_and_body(tracker, receiver, senders,
                                                         clock) -> None:
    add_hook(tracker, receiver)
    append(tracker, served(40))
    send(tracker, senders)
    [request] = receiver.requests
    timestamp = request.headers["X-Tracker-Timestamp"]
    assert timestamp == str(int(clock().timestamp()))
    signature = request.headers["X-Tracker-Signature"]
    assert verify(SECRET.encode(), timestamp, request.body, signature,
                  now=clock().timestamp())
    assert not verify(b"wrong", timestamp, request.body, signature, now=clock().timestamp())
    assert request.headers["X-Tracker-Idempotency-Key"] == request.key
    assert request.headers["Content-Type"] == "application/json"
    change = request.json["change"]
    assert change["policy"]["id"] == "hk-zhejiang-supply-chain"
    assert change["sources"][0]["publisher"] == "HKSAR Government"


def test_a_crash_between_sending_and_recording_resends_once_with_the_same_key(
        tracker, receiver, senders) -> None:
    add_hook(tracker, receiver)
    append(tracker, served(40, claim_id="c40"),
           served(95, "Some blog", "unrated", claim_id="rumour", hedged=True, item="item-2"))
    crashed: list[str] = []

    def crash(_channel: Any, change: Any) -> None:
        crashed.append(change.change_id)
        raise RuntimeError("killed between send and record")

    with pytest.raises(RuntimeError):
        send(tracker, senders, after_send=crash)
    assert len(receiver.requests) == 1 and logged(tracker, "alert.delivered") == []
    send(tracker, senders)
    send(tracker, senders)
    keys = receiver.keys()
    assert len(keys) == 3 and keys[0] == keys[1] and len(set(keys)) == 2
    delivered = logged(tracker, "alert.delivered")
    assert len(delivered) == 2
    assert sorted(d["idempotency_key"] for d in delivered) == sorted(set(keys))


def test_a_failing_receiver_is_retried_with_backoff_recorded_and_served_when_it_recovers(
        tracker, receiver, senders, waits) -> None:
    add_hook(tracker, receiver)
    append(tracker, served(40, claim_id="c40"),
           served(95, "Some blog", "unrated", claim_id="rumour", hedged=True, item="item-2"))
    receiver.status = 500
    settings = settings_for(attempts=3, backoff_initial=2.0, backoff_max=5.0)
    failed = send(tracker, senders, settings)
    assert failed.exit_code == EXIT_SOME_ALERTS_FAILED
    [outcome] = failed.failed
    assert (outcome.attempts, outcome.pending, outcome.delivered) == (3, 2, 0)
    assert "HTTP 500" in outcome.line() and "\n" not in failed.line()
    assert len(receiver.requests) == 3                 # one change, three attempts, then stop
    assert len(waits) == 2 and all(0 <= w <= 5.0 for w in waits)
    [record] = logged(tracker, "alert.failed")
    assert (record["attempts"], record["pending"], record["error"]) == (3, 2, "HTTP 500")
    assert logged(tracker, "alert.delivered") == []
    assert service.list_channels(tracker, settings)[0]["last_failure"] == "HTTP 500"

    receiver.statuses, receiver.status = [503], 200     # recovers after one more hiccup
    recovered = send(tracker, senders, settings)
    assert (recovered.delivered, recovered.failed) == (2, [])
    ok_keys = receiver.keys()
    assert len(ok_keys) == 2 and ok_keys[0] == record["idempotency_key"]
    assert [d["attempts"] for d in logged(tracker, "alert.delivered")] == [2, 1]
    row = service.list_channels(tracker, settings)[0]
    assert (row["delivered"], row["pending"], row["last_failure"]) == (2, 0, None)
    assert send(tracker, senders, settings).delivered == 0


def test_internal_addresses_are_refused_unless_the_channel_allows_them(
        tracker, receiver, out, waits) -> None:
    with pytest.raises(UsageError, match="internal address"):
        service.add_channel(tracker, "hook", receiver.url)
    # a name that resolves inside is only found out when delivering
    named = f"http://hooks.example.test:{receiver.port}/hook"
    service.add_channel(tracker, "outside", named)
    service.add_channel(tracker, "inside", named, allow_private=True)
    append(tracker, served(40))
    senders = Senders.default(settings_for(), tracker.clock, out, {},
                              resolver=lambda _host, _port: ["127.0.0.1"], sleep=waits.append)
    try:
        summary = send(tracker, senders)
    finally:
        senders.close()
    outcomes = {o.name: o for o in summary.outcomes}
    assert outcomes["inside"].delivered == 1
    assert outcomes["outside"].delivered == 0 and outcomes["outside"].attempts == 1
    assert "resolves to an internal address" in str(outcomes["outside"].error)
    assert waits == [] and len(receiver.requests) == 1


def test_a_digest_prints_each_change_once(tracker, senders, out) -> None:
    service.add_channel(tracker, "daily", "digest")
    append(tracker, served(40), served("suspended", claim_id="suspended", item="item-2",
                                       slot="lifecycle"))
    assert send(tracker, senders).delivered == 2
    assert out.text.startswith("== daily: 2 changes ==\n")
    assert "firms_served accepted: 40" in out.text
    assert "status announced -> suspended" in out.text
    assert "source: HKSAR Government (official) https://news.example/tariff" in out.text
    printed = out.text
    assert send(tracker, senders).delivered == 0 and out.text == printed
    assert [d["kind"] for d in logged(tracker, "alert.delivered")] == [FACT_ACCEPTED,
                                                                       STATUS_CHANGED]


def test_email_goes_out_over_smtp_once(tracker, mailbox: Mailbox, out: Out, waits) -> None:
    service.add_channel(tracker, "analysts", "mailto:analysts@example.org",
                        on=["fact.disputed"])
    append(tracker, served(40), served(95, "Some blog", "unrated", claim_id="rumour",
                                       hedged=True, item="item-2"))
    settings = settings_for(mailbox)
    senders = Senders.default(settings, tracker.clock, out, {}, sleep=waits.append)
    try:
        assert send(tracker, senders, settings).delivered == 1
        assert send(tracker, senders, settings).delivered == 0
    finally:
        senders.close()
    [message] = mailbox.messages
    assert message.rcpt_tos == ["analysts@example.org"]
    content = message.content.decode()
    assert "firms_served disputed: 95 against 40" in content
    [delivered] = logged(tracker, "alert.delivered")
    assert f"X-Tracker-Idempotency-Key: {delivered['idempotency_key']}" in content
    assert delivered["response"] == "250 OK"


def test_filters_a_removed_channel_and_a_policy_nobody_tracks(tracker, receiver,
                                                              senders) -> None:
    add_hook(tracker, receiver, on=["claim.pending"], policy_id="hk-zhejiang-supply-chain")
    with pytest.raises(UsageError, match="no tracked policy"):
        service.add_channel(tracker, "other", "digest", policy_id="nope")
    with pytest.raises(AlreadyError, match="exists"):
        service.add_channel(tracker, "hook", "digest")
    append(tracker, served(40), served(55, "SCMP", "press", claim_id="press", item="item-2",
                                       as_of=SEP_30))
    assert send(tracker, senders).delivered == 1
    assert [r.json["change"]["kind"] for r in receiver.requests] == [CLAIM_PENDING]
    service.remove_channel(tracker, "hook")
    append(tracker, served(56, "RTHK", "press", claim_id="rthk", item="item-3",
                           as_of=datetime(2025, 10, 31, tzinfo=UTC)))
    assert send(tracker, senders).outcomes == [] and len(receiver.requests) == 1
    with pytest.raises(UsageError, match="no alert channel"):
        service.remove_channel(tracker, "hook")


def test_a_quiet_channel_far_behind_records_a_checkpoint(tracker, receiver, senders,
                                                          monkeypatch) -> None:
    add_hook(tracker, receiver, on=["fact.withdrawn"])
    monkeypatch.setattr("tracker.alerts.outbox.CHECKPOINT_LAG", 2)
    append(tracker, served(40), served(41, item="i2", as_of=datetime(2025, 8, 31, tzinfo=UTC)),
           served(42, item="i3", as_of=SEP_30))
    assert send(tracker, senders).delivered == 0
    [checkpoint] = logged(tracker, "alert.checkpoint")
    assert checkpoint["through"] == tracker.store.head() - 1
    assert send(tracker, senders).delivered == 0
    assert len(logged(tracker, "alert.checkpoint")) == 1   # not behind any more
    assert CHECKPOINT_LAG == 1000
