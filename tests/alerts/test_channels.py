"""Senders without a database: targets, signatures, retries and what a message says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.alerts.conftest import SECRET, Mailbox, Receiver
from tracker.alerts.changes import FACT_SUPERSEDED, Change
from tracker.alerts.channels import (
    DeliveryError,
    EmailSender,
    WebhookSender,
    body_of,
    parse_target,
    payload,
    sign,
    summary,
    text,
    verify,
    with_retries,
)
from tracker.alerts.outbox import Channel
from tracker.alerts.settings import AlertSettings, SmtpSettings
from tracker.errors import UsageError
from tracker.ingest.transport import make_client

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHANGE = Change(change_id="c1", kind=FACT_SUPERSEDED, position=7, event_id="e7",
                recorded_at=NOW, policy_id="p", policy_title="A policy\r\nBcc: x@evil.example",
                slot="firms_served", before=40, after=60, world_date="2025-09-30",
                precision="day", decided_by={"by": "rule", "rule": "official-source",
                                             "version": "v1", "positions": [7]},
                sources=({"position": 7, "publisher": "Gov", "tier": "official",
                          "link": "https://gov.example/1"},), claim_id="c60")


def hook(url: str, **fields: object) -> Channel:
    return Channel(name="hook", kind="webhook", target=url, on=(FACT_SUPERSEDED,), since=0,
                   channel_id="ch", **fields)  # type: ignore[arg-type]


def test_targets_are_recognised_and_bad_or_internal_ones_refused() -> None:
    assert parse_target("digest", False) == ("digest", "digest")
    assert parse_target("mailto:ops@example.org", False) == ("email", "mailto:ops@example.org")
    assert parse_target("https://hooks.example.org/x", False) == (
        "webhook", "https://hooks.example.org/x")
    assert parse_target("http://127.0.0.1:9/x", True)[0] == "webhook"
    for bad, fragment in [("ftp://x.example/", "http(s)"), ("hooks.example.org", "http(s)"),
                          ("https://u:p@hooks.example.org/", "credentials"),
                          ("http://127.0.0.1/x", "internal address"),
                          ("http://localhost:8080/x", "internal address"),
                          ("http://[::1]/x", "internal address"),
                          ("http://169.254.169.254/latest", "internal address"),
                          ("http://100.64.0.1/", "internal address"),
                          ("mailto:a@example.org,b@example.org", "one email address"),
                          ("mailto:Ops <ops@example.org>", "one email address"),
                          ("mailto:nobody", "one email address"),
                          ("http://x.example:99999/", "cannot read")]:
        with pytest.raises(UsageError, match=None) as caught:
            parse_target(bad, False)
        assert fragment in str(caught.value), (bad, str(caught.value))
        assert "\n" not in str(caught.value)


def test_the_signature_covers_timestamp_and_body_and_goes_stale() -> None:
    body = body_of(payload(hook("https://h.example/"), CHANGE, "key-1"))
    signature = sign(SECRET.encode(), "1767225600", body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify(SECRET.encode(), "1767225600", body, signature, now=1767225600 + 60)
    assert not verify(SECRET.encode(), "1767225601", body, signature, now=1767225600)
    assert not verify(SECRET.encode(), "1767225600", body + b" ", signature, now=1767225600)
    assert not verify(b"other", "1767225600", body, signature, now=1767225600)
    assert not verify(SECRET.encode(), "1767225600", body, signature, now=1767225600 + 301)
    assert not verify(SECRET.encode(), "soon", body, signature, now=1767225600)


def test_the_payload_names_policy_slot_values_date_decision_and_sources() -> None:
    document = json.loads(body_of(payload(hook("https://h.example/"), CHANGE, "key-1")))
    assert document["schema"] == "tracker.alert/1"
    assert document["idempotency_key"] == "key-1" and document["test"] is False
    change = document["change"]
    assert change["policy"] == {"id": "p", "title": CHANGE.policy_title}
    assert (change["slot"], change["before"], change["after"], change["world_date"]) == (
        "firms_served", 40, 60, "2025-09-30")
    assert change["decided_by"]["rule"] == "official-source"
    assert change["sources"] == [{"position": 7, "publisher": "Gov", "tier": "official",
                                  "link": "https://gov.example/1"}]
    assert (change["position"], change["event_id"], change["kind"]) == (7, "e7",
                                                                         FACT_SUPERSEDED)


def test_retries_back_off_until_the_limit_and_permanent_failures_stop_at_once() -> None:
    waits: list[float] = []
    settings = AlertSettings(attempts=4, backoff_initial=1.0, backoff_max=3.0)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DeliveryError("HTTP 503")
        return "HTTP 200"

    assert with_retries(flaky, settings, waits.append) == ("HTTP 200", 3)
    assert len(waits) == 2 and all(0 <= w <= 3.0 for w in waits)

    def down() -> str:
        raise DeliveryError("HTTP 500")

    waits.clear()
    with pytest.raises(DeliveryError) as caught:
        with_retries(down, settings, waits.append)
    assert caught.value.attempts == 4 and len(waits) == 3

    def refused() -> str:
        raise DeliveryError("HTTP 404", permanent=True)

    waits.clear()
    with pytest.raises(DeliveryError) as caught:
        with_retries(refused, settings, waits.append)
    assert caught.value.attempts == 1 and waits == []


def test_a_webhook_refuses_a_name_resolving_inside_unless_allowed(receiver: Receiver) -> None:
    client = make_client(resolver=lambda _host, _port: ["127.0.0.1"])
    sender = WebhookSender(client, lambda: NOW, {})
    url = f"http://hooks.example.test:{receiver.port}/hook"
    try:
        with pytest.raises(DeliveryError) as caught:
            sender.send(hook(url), CHANGE, "k")
        assert caught.value.permanent and "internal address" in str(caught.value)
        assert receiver.requests == []
        assert sender.send(hook(url, allow_private=True), CHANGE, "k") == "HTTP 200"
        [request] = receiver.requests
        assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"
    finally:
        client.close()


def test_webhook_answers_map_to_retry_or_not(receiver: Receiver) -> None:
    client = make_client()
    sender = WebhookSender(client, lambda: NOW, {"HOOK_SECRET": SECRET})
    channel = hook(receiver.url, allow_private=True, secret_env="HOOK_SECRET")
    try:
        for status, permanent in [(500, False), (429, False), (404, True), (302, True)]:
            receiver.status = status
            with pytest.raises(DeliveryError) as caught:
                sender.send(channel, CHANGE, "k")
            assert caught.value.permanent is permanent, status
            assert f"HTTP {status}" in str(caught.value)
        missing = WebhookSender(client, lambda: NOW, {})
        with pytest.raises(DeliveryError, match="HOOK_SECRET") as caught:
            missing.send(channel, CHANGE, "k")
        assert caught.value.permanent
    finally:
        client.close()


def test_text_and_email_keep_feed_text_on_its_lines(mailbox: Mailbox) -> None:
    assert "\n" not in summary(CHANGE)
    lines = text(CHANGE, "key-1").splitlines()
    assert lines[0] == "A policy Bcc: x@evil.example: firms_served: 40 -> 60"
    assert "  source: Gov (official) https://gov.example/1 [position 7]" in lines
    email = EmailSender(SmtpSettings(host=mailbox.host, port=mailbox.port), lambda: NOW, {})
    channel = Channel(name="mail", kind="email", target="mailto:ops@example.org",
                      on=(FACT_SUPERSEDED,), since=0, channel_id="ch")
    message = email.message(channel, CHANGE, "key-1")
    assert "\n" not in str(message["Subject"]) and "Bcc" not in message
    assert message["Message-ID"] == "<key-1@tracker>"
    assert email.send(channel, CHANGE, "key-1") == "250 OK"
    [received] = mailbox.messages
    assert received.rcpt_tos == ["ops@example.org"]
    assert b"X-Tracker-Idempotency-Key: key-1" in received.content


def test_email_never_sends_a_password_in_clear(mailbox: Mailbox) -> None:
    smtp = SmtpSettings(host=mailbox.host, port=mailbox.port, user="tracker")
    email = EmailSender(smtp, lambda: NOW, {"TRACKER_SMTP_PASSWORD": "pw"})
    channel = Channel(name="mail", kind="email", target="mailto:ops@example.org",
                      on=(FACT_SUPERSEDED,), since=0, channel_id="ch")
    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        email.send(channel, CHANGE, "k")
    assert caught.value.permanent and mailbox.messages == []


def test_an_unreachable_smtp_server_is_worth_another_try() -> None:
    from tests.alerts.conftest import _free_port

    email = EmailSender(SmtpSettings(host="127.0.0.1", port=_free_port(), timeout=2), lambda: NOW,
                        {})
    channel = Channel(name="mail", kind="email", target="mailto:ops@example.org",
                      on=(FACT_SUPERSEDED,), since=0, channel_id="ch")
    with pytest.raises(DeliveryError) as caught:
        email.send(channel, CHANGE, "k")
    assert not caught.value.permanent and "127.0.0.1" in str(caught.value)
