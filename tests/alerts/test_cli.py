"""`tracker alerts ...` and `tracker ingest` through CliRunner, on SQLite and PostgreSQL; the
scheduled job. Claims are appended as ingest records them, or ingested from the sample feeds
served on the loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.alerts.conftest import SECRET, Mailbox, Receiver, append, served
from tests.support.feed_server import SAMPLE_NAMES, FeedServer
from tracker.app import Tracker
from tracker.cli import main
from tracker.errors import EXIT_ALREADY, EXIT_SOME_ALERTS_FAILED, EXIT_USAGE

DELTA, GANGZHE, HARBOUR = SAMPLE_NAMES
SEP_30 = datetime(2025, 9, 30, tzinfo=UTC)


def cli(tracker: Tracker, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", tracker.url, *args])


def ok(tracker: Tracker, *args: str) -> Result:
    result = cli(tracker, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def delivered(tracker: Tracker) -> list[dict[str, Any]]:
    return [dict(e.data) for e in tracker.store.read(types=["alert.delivered"])]


@pytest.fixture
def hook_env(monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    monkeypatch.setenv("TRACKER_ALERT_ATTEMPTS", "1")   # no backoff sleeps through the CLI


def test_add_list_remove_and_their_refusals(tracker, receiver) -> None:
    added = ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private",
               "--secret-env", "HOOK_SECRET", "--on", "fact.accepted,fact.disputed",
               "--on", "status.changed")
    head = tracker.store.head() - 1
    assert added.stdout.strip() == (f"alerting hook: webhook {receiver.url} on status.changed, "
                                    f"fact.accepted, fact.disputed, after position {head}")
    ok(tracker, "alerts", "add", "daily", "digest", "--policy", "hk-zhejiang-supply-chain",
       "--min-score", "15")
    ok(tracker, "alerts", "add", "analysts", "mailto:analysts@example.org")
    listed = _channels(ok(tracker, "alerts", "list").stdout)
    assert [block.split()[0] for block in listed] == ["analysts", "daily", "hook"]
    assert "on all changes" in listed[0] and "0 delivered, 0 pending" in listed[0]
    assert "policy hk-zhejiang-supply-chain" in listed[1]
    rows = json.loads(ok(tracker, "alerts", "list", "--format", "json").stdout)
    hook = next(r for r in rows if r["name"] == "hook")
    assert (hook["secret_env"], hook["allow_private"], hook["since"]) == ("HOOK_SECRET", True,
                                                                         head)
    assert next(r for r in rows if r["name"] == "daily")["min_score"] == 15
    assert ok(tracker, "alerts", "remove", "daily").stdout.strip() == "no longer alerting daily"
    assert [r["name"] for r in json.loads(ok(tracker, "alerts", "list", "--format",
                                             "json").stdout)] == ["analysts", "hook"]

    for args, fragments in [
        (("add", "inside", receiver.url), ("refused", "internal address", "--allow-private")),
        (("add", "hook", "digest"), ("exists",)),
        (("add", "x", "digest", "--on", "everything"), ("--on", "fact.accepted")),
        (("add", "x", "digest", "--secret-env", "S"), ("webhook",)),
        (("add", "x", "https://h.example/", "--secret-env", "NOT A NAME"), ("--secret-env",)),
        (("add", "x", "gopher://h.example/"), ("http(s)",)),
        (("add", "x y", "digest"), ("channel name",)),
        (("add", "x", "mailto:two@example.org,three@example.org"), ("one email address",)),
        (("add", "x", "digest", "--policy", "nope"), ("no tracked policy",)),
        (("add", "x", "digest", "--min-score", "nan"), ("--min-score",)),
        (("remove", "nobody"), ("no alert channel",)),
        (("test", "nobody"), ("no alert channel",)),
        (("send", "--channel", "nobody"), ("no alert channel",)),
    ]:
        code = EXIT_ALREADY if fragments == ("exists",) else EXIT_USAGE
        one_line_error(cli(tracker, "alerts", *args), code, *fragments)
    assert len(_channels(ok(tracker, "alerts", "list").stdout)) == 2


def _channels(text: str) -> list[str]:
    """`alerts list` text: a block per channel (its first line unindented), the count last."""
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and blocks:
            blocks[-1] += " " + line.strip()
        elif line.strip() and not line.endswith(("channel", "channels")):
            blocks.append(line)
    return blocks


def test_list_says_when_there_is_no_channel(tracker) -> None:
    assert "no alert channels" in ok(tracker, "alerts", "list").stdout
    assert json.loads(ok(tracker, "alerts", "list", "--format", "json").stdout) == []


def test_test_sends_one_marked_notification_and_records_nothing(tracker, receiver,
                                                                hook_env) -> None:
    ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private", "--secret-env",
       "HOOK_SECRET")
    before = tracker.store.head()
    assert ok(tracker, "alerts", "test", "hook").stdout.strip() == \
        "test alert sent to hook: HTTP 200"
    as_json = json.loads(ok(tracker, "alerts", "test", "hook", "--format", "json").stdout)
    assert as_json == {"name": "hook", "response": "HTTP 200", "sent": True}
    assert [r.json["test"] for r in receiver.requests] == [True, True]
    assert receiver.requests[0].json["change"]["kind"] == "test"
    assert tracker.store.head() == before
    receiver.status = 500
    one_line_error(cli(tracker, "alerts", "test", "hook"), 1, "test alert to hook failed",
                   "HTTP 500")


def test_test_reaches_an_email_channel(tracker, mailbox: Mailbox) -> None:
    ok(tracker, "alerts", "add", "analysts", "mailto:analysts@example.org")
    result = ok(tracker, "alerts", "test", "analysts", "--smtp-host", mailbox.host,
                "--smtp-port", str(mailbox.port), "--smtp-from", "tracker@example.org")
    assert result.stdout.strip() == "test alert sent to analysts: 250 OK"
    [message] = mailbox.messages
    assert message.mail_from == "tracker@example.org"
    assert b"[tracker] TEST" in message.content


def test_send_prints_digests_and_one_line_per_channel(tracker, receiver, hook_env) -> None:
    ok(tracker, "alerts", "add", "daily", "digest")
    ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private", "--secret-env",
       "HOOK_SECRET")
    append(tracker, served(40))
    result = ok(tracker, "alerts", "send")
    assert result.stdout.startswith("== daily: 1 change ==\n")
    assert result.stdout.splitlines()[-3:] == ["daily: 1 delivered", "hook: 1 delivered",
                                               "alerts: 2 channel(s), 2 delivered, 0 failed"]
    again = json.loads(ok(tracker, "alerts", "send", "--format", "json").stdout)
    assert (again["delivered"], again["failed"]) == (0, 0)

    append(tracker, served(60, claim_id="c60", as_of=SEP_30, item="item-2"))
    receiver.status = 500
    failed = cli(tracker, "alerts", "send", "--channel", "hook")
    assert failed.exit_code == EXIT_SOME_ALERTS_FAILED
    assert failed.stderr.strip() == "hook: failed after 1 attempt(s): HTTP 500 (1 pending)"
    assert failed.stdout.strip() == ("alerts: 1 channel(s), 0 delivered, 1 failed (hook: "
                                     "failed after 1 attempt(s): HTTP 500 (1 pending))")
    receiver.status = 200
    report = json.loads(ok(tracker, "alerts", "send", "--format", "json").stdout)
    assert {c["name"]: c["delivered"] for c in report["channels"]} == {"daily": 1, "hook": 1}
    assert report["digest"].startswith("== daily: 1 change ==\n")
    assert "firms_served: 40 -> 60" in report["digest"]
    assert len(receiver.keys()) == len(set(receiver.keys())) == 2


def test_ingest_sends_alerts_at_its_end_once_across_ingests(tracker, receiver, server:
                                                            FeedServer, hook_env) -> None:
    urls = server.serve_samples()
    for name in (DELTA, GANGZHE):
        ok(tracker, "feeds", "add", name, urls[name], "--allow-private", "--tier", "press")
    ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private", "--secret-env",
       "HOOK_SECRET", "--min-score", "15")
    first = ok(tracker, "ingest", "--feed", DELTA)
    sent = len(receiver.requests)
    assert sent > 0
    assert first.stderr.strip().splitlines()[-1] == (
        f"alerts: 1 channel(s), {sent} delivered, 0 failed")
    second = ok(tracker, "ingest", "--feed", DELTA)         # nothing new (304)
    assert len(receiver.requests) == sent and "alerts:" not in second.stderr
    ok(tracker, "ingest", "--feed", GANGZHE)
    ok(tracker, "ingest")
    keys = receiver.keys()
    assert len(keys) > sent and len(keys) == len(set(keys))
    assert sorted(d["idempotency_key"] for d in delivered(tracker)) == sorted(keys)
    kinds = {r.json["change"]["kind"] for r in receiver.requests}
    assert {"story.new", "claim.pending", "fact.accepted"} <= kinds
    assert all(r.json["change"]["score"] >= 15 for r in receiver.requests
               if r.json["change"]["kind"] == "story.new")


def test_a_delivery_failure_never_fails_the_ingest(tracker, receiver, server: FeedServer,
                                                   hook_env) -> None:
    urls = server.serve_samples((DELTA,))
    ok(tracker, "feeds", "add", DELTA, urls[DELTA], "--allow-private", "--tier", "press")
    ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private", "--secret-env",
       "HOOK_SECRET")
    receiver.status = 500
    result = ok(tracker, "ingest", "--format", "json")
    json.loads(result.stdout)                     # the report, unharmed
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("alerts:")]
    assert "1 failed" in line and "HTTP 500" in line
    assert delivered(tracker) == []
    receiver.status = 200
    ok(tracker, "alerts", "send")
    assert len(delivered(tracker)) == len(set(receiver.keys())) > 0


def test_ingest_json_leaves_digests_for_alerts_send_and_dry_run_sends_nothing(
        tracker, server: FeedServer) -> None:
    urls = server.serve_samples((DELTA,))
    ok(tracker, "feeds", "add", DELTA, urls[DELTA], "--allow-private", "--tier", "press")
    ok(tracker, "alerts", "add", "daily", "digest")
    ok(tracker, "ingest", "--dry-run")
    assert delivered(tracker) == []
    result = ok(tracker, "ingest", "--format", "json")
    json.loads(result.stdout)                     # stdout is the JSON report alone
    assert delivered(tracker) == []
    digest = ok(tracker, "alerts", "send").stdout
    assert digest.startswith("== daily: ") and len(delivered(tracker)) > 0


def test_the_scheduled_job_delivers_and_is_scheduled_only_while_channels_exist(
        tracker, receiver: Receiver, hook_env) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler
    from tracker.jobs.alerts import ALERTS_ID, ALERTS_JOB, send_alerts, sync_alerts_job

    scheduler = BackgroundScheduler(timezone="UTC")
    assert sync_alerts_job(tracker.url, scheduler) is False
    assert scheduler.get_jobs() == []
    ok(tracker, "alerts", "add", "hook", receiver.url, "--allow-private", "--secret-env",
       "HOOK_SECRET")
    ok(tracker, "alerts", "add", "daily", "digest")
    assert sync_alerts_job(tracker.url, scheduler) is True
    [job] = scheduler.get_jobs()
    assert (job.id, job.func_ref, job.args) == (ALERTS_ID, ALERTS_JOB, (tracker.url,))
    append(tracker, served(40))
    summary = send_alerts(tracker.url)
    assert [o.name for o in summary.outcomes] == ["hook"]   # digests are for cron
    assert summary.delivered == 1 and len(receiver.requests) == 1
    assert send_alerts(tracker.url).delivered == 0
    ok(tracker, "alerts", "remove", "hook")
    ok(tracker, "alerts", "remove", "daily")
    assert sync_alerts_job(tracker.url, scheduler) is False
    assert scheduler.get_jobs() == []
