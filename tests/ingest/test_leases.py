"""Feed leases when workers stop, stall or lose their database connection (issue 11).

SIGTERM hands a feed back as Ctrl-C does; a feed another worker holds shows as busy in the
summary; the lease is short, configurable, and renewed by a heartbeat while a feed is worked
on; a unit of work whose connection is killed is retried once, with nothing recorded twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.support.cli import cli, ok
from tests.support.feed_server import SAMPLE_NAMES, FeedServer, RequestHandler, sample
from tests.support.paths import ROOT
from tracker.app import Tracker, open_tracker, verify
from tracker.catalogue import FEED_CHANGED
from tracker.config import DEFAULT_LEASE_SECONDS, ENV_LEASE
from tracker.dates import utc
from tracker.errors import EXIT_INTERRUPTED, EXIT_USAGE
from tracker.events import NewEvent
from tracker.feeds import add_feed
from tracker.ingest import fetch
from tracker.ingest.run import ingest
from tracker.ingest.timing import MAX_INTERVAL_SECONDS
from tracker.store.schema import feed_state

DELTA, GANGZHE, HARBOUR = SAMPLE_NAMES
ELSEWHERE = "elsewhere:4242:abcdef"



def subscribe(tracker: Tracker, server: FeedServer, names: tuple[str, ...]) -> None:
    for name, url in server.serve_samples(names).items():
        add_feed(tracker, name, url, allow_private=True)  # the loopback server


def state(tracker: Tracker, name: str) -> dict[str, Any]:
    with tracker.engine.connect() as conn:
        row = conn.execute(sa.select(feed_state).where(feed_state.c.name == name)).first()
    assert row is not None, f"no feed_state row for {name}"
    return dict(row._mapping)


def lease_of(tracker: Tracker, name: str) -> tuple[str | None, datetime | None]:
    row = state(tracker, name)
    expires = row["lease_expires_at"]
    return row["lease_owner"], utc(expires) if expires is not None else None


def hold_lease(tracker: Tracker, name: str, owner: str, until: datetime) -> None:
    with tracker.engine.begin() as conn:
        conn.execute(feed_state.insert().values(name=name, lease_owner=owner,
                                                lease_expires_at=until))


def recorded_per_item(tracker: Tracker) -> Counter[tuple[str, str]]:
    return Counter((e.data["feed"], e.data["item_key"])
                   for e in tracker.store.read(types=["item.recorded"]))


def wait_for(check: Callable[[], Any], what: str, limit: float = 10.0) -> Any:
    """Poll ``check`` until it holds; fail (naming ``what``) if it never does."""
    end = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)


def stamp(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- SIGTERM ----------------------------------------------------------------------------------


def test_sigterm_mid_fetch_hands_the_lease_back(db_url, server) -> None:
    setup = open_tracker(db_url)
    try:
        subscribe(setup, server, (DELTA,))
    finally:
        setup.close()
    arrived = threading.Event()

    def hang(request: RequestHandler) -> None:
        arrived.set()
        request.stall(30)

    server.routes[f"/{DELTA}"] = hang
    env = {k: v for k, v in os.environ.items() if k != ENV_LEASE}
    proc = subprocess.Popen([sys.executable, "-m", "tracker", "--database-url", db_url, "ingest"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert arrived.wait(30), "the ingest never fetched the feed"
        watcher = open_tracker(db_url)
        try:
            owner, _ = lease_of(watcher, DELTA)
            assert owner is not None and f":{proc.pid}:" in owner  # held mid-fetch
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
            assert proc.returncode == EXIT_INTERRUPTED, (stdout, stderr)
            assert stderr.strip() == "tracker: interrupted"
            assert lease_of(watcher, DELTA) == (None, None)
            assert state(watcher, DELTA)["consecutive_failures"] == 0
        finally:
            watcher.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    server.serve_samples((DELTA,))
    again = ok(db_url, "ingest")  # the feed is fetched at once, not skipped as busy

    assert f"{DELTA}: 6 new items" in again.stdout
    assert "busy" not in again.stdout
    assert len(server.seen(DELTA)) == 2


def test_the_sigterm_handler_is_removed_after_the_command(sqlite_url, server) -> None:
    before = signal.getsignal(signal.SIGTERM)
    setup = open_tracker(sqlite_url)
    try:
        subscribe(setup, server, (DELTA,))
    finally:
        setup.close()

    ok(sqlite_url, "ingest", "--feed", DELTA)

    assert signal.getsignal(signal.SIGTERM) is before


# -- busy feeds in the summary ----------------------------------------------------------------


def test_a_busy_feed_is_in_the_summary_as_text_and_json(db_url, server) -> None:
    setup = open_tracker(db_url)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    try:
        subscribe(setup, server, (DELTA, HARBOUR))
        hold_lease(setup, DELTA, ELSEWHERE, until)
    finally:
        setup.close()

    text = cli(db_url, "ingest")

    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert f"{DELTA}: busy: leased by {ELSEWHERE} until {stamp(until)}" in lines
    assert any(line.startswith(f"{HARBOUR}: 6 new items") for line in lines)
    assert re.fullmatch(r"ingest: 1 feed polled, 0 failed, 0 not due, 1 busy; "
                        r"6 new items, \d+ new stories", lines[-1]), lines[-1]
    assert server.seen(DELTA) == []

    as_json = cli(db_url, "ingest", "--feed", DELTA, "--format", "json")

    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert {k: report[k] for k in ("polled", "failed", "not_due", "busy", "items")} == \
        {"polled": 0, "failed": 0, "not_due": 0, "busy": 1, "items": 0}
    [busy] = report["feeds"]
    assert busy["name"] == DELTA and busy["status"] == "busy"
    assert busy["lease_owner"] == ELSEWHERE
    assert busy["lease_expires_at"] == stamp(until)
    assert busy["message"] == f"leased by {ELSEWHERE} until {stamp(until)}"
    assert server.seen(DELTA) == []


def test_ingest_json_reports_every_feed(sqlite_url, server) -> None:
    setup = open_tracker(sqlite_url)
    try:
        subscribe(setup, server, SAMPLE_NAMES)
    finally:
        setup.close()
    server.serve(GANGZHE, b"down", status=500, content_type="text/plain")

    result = cli(sqlite_url, "ingest", "--format", "json")

    assert result.exit_code == 6, result.output
    report = json.loads(result.stdout)
    assert (report["polled"], report["failed"], report["busy"], report["items"]) == (3, 1, 0, 12)
    assert [(f["name"], f["status"]) for f in report["feeds"]] == \
        [(DELTA, "ok"), (GANGZHE, "failed"), (HARBOUR, "ok")]
    assert report["feeds"][1]["message"].startswith("HTTP 500")


# -- the lease's length and its heartbeat -----------------------------------------------------


def test_the_lease_length_is_configurable_and_the_heartbeat_renews_it(tracker, server,
                                                                       clock) -> None:
    subscribe(tracker, server, (DELTA,))
    seen: list[tuple[str | None, datetime | None]] = []
    others: list[Any] = []

    def slow_fetch(url: str, **kwargs: Any) -> fetch.FetchResult:
        seen.append(lease_of(tracker, DELTA))
        for _ in range(3):  # 3 x 40 s: well past the first lease's end
            clock.advance(seconds=40)
            renewed = clock.now + timedelta(seconds=45)
            seen.append(wait_for(lambda until=renewed: lease_of(tracker, DELTA)[1] == until
                                 and lease_of(tracker, DELTA), "the lease renewed"))
            others.append(ingest(tracker, feed=DELTA, worker="other:2:000002"))
        return fetch.fetch(url, **kwargs)

    start = clock.now
    summary = ingest(tracker, fetcher=slow_fetch, worker="this:1:000001", lease_seconds=45,
                     renew_every=0.01)

    assert [(o.name, o.status) for o in summary.outcomes] == [(DELTA, "ok")]
    # 45 s from the start, then 45 s from each moment the clock moved on
    assert seen == [("this:1:000001", start + timedelta(seconds=40 * n + 45)) for n in range(4)]
    # the other worker was kept out all along, even after the first lease would have lapsed
    assert [(o.outcomes[0].status, o.outcomes[0].lease_owner) for o in others] == \
        [("busy", "this:1:000001")] * 3
    assert len(server.seen(DELTA)) == 1
    assert lease_of(tracker, DELTA) == (None, None)


def test_without_renewal_a_stalled_workers_lease_lapses_at_its_configured_length(
        tracker, server, clock) -> None:
    subscribe(tracker, server, (DELTA,))
    hold_lease(tracker, DELTA, ELSEWHERE, clock.now + timedelta(seconds=DEFAULT_LEASE_SECONDS))

    assert [o.status for o in ingest(tracker, feed=DELTA).outcomes] == ["busy"]
    clock.advance(seconds=DEFAULT_LEASE_SECONDS + 1)

    taken = ingest(tracker, feed=DELTA, worker="here:1:000001")

    assert [(o.status, o.items) for o in taken.outcomes] == [("ok", 6)]


def lease_recorder(tracker: Tracker, server: FeedServer, name: str) -> list[timedelta]:
    """Serve ``name`` and note, as each request arrives, how long its lease has to run."""
    left: list[timedelta] = []

    def answer(request: RequestHandler) -> None:
        _, expires = lease_of(tracker, name)
        assert expires is not None
        left.append(expires - datetime.now(UTC))
        request.reply(200, sample(name), {"Content-Type": "application/xml"})

    server.routes[f"/{name}"] = answer
    return left


@pytest.mark.parametrize(("args", "env", "seconds"), [
    ((), {}, DEFAULT_LEASE_SECONDS),
    (("--lease", "5m"), {}, 300),
    (("--lease", "45"), {ENV_LEASE: "300"}, 45),
    ((), {ENV_LEASE: "90s"}, 90),
], ids=["default", "option", "option-over-env", "env"])
def test_ingest_lease_option_and_environment(sqlite_url, server, monkeypatch, args, env,
                                             seconds) -> None:
    tracker = open_tracker(sqlite_url)
    try:
        subscribe(tracker, server, (DELTA,))
        left = lease_recorder(tracker, server, DELTA)
        monkeypatch.delenv(ENV_LEASE, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

        ok(sqlite_url, "ingest", *args)

        [remaining] = left
        assert timedelta(seconds=seconds - 30) < remaining <= timedelta(seconds=seconds)
    finally:
        tracker.close()


@pytest.mark.parametrize(("args", "env"), [
    (("--lease", "5"), {}), (("--lease", "2h"), {}), (("--lease", "soon"), {}),
    ((), {ENV_LEASE: "-1"}),
], ids=["too-short", "too-long", "unreadable", "bad-env"])
def test_ingest_refuses_a_bad_lease(sqlite_url, server, monkeypatch, args, env) -> None:
    tracker = open_tracker(sqlite_url)
    try:
        subscribe(tracker, server, (DELTA,))
    finally:
        tracker.close()
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    result = cli(sqlite_url, "ingest", *args)

    assert result.exit_code == EXIT_USAGE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tracker: ") and ("--lease" in line or ENV_LEASE in line)
    assert "10s to 60m" in line
    assert server.seen(DELTA) == []


# -- a dropped database connection ------------------------------------------------------------


@pytest.fixture
def pg_tracker(pg_url: str, clock: Any) -> Iterator[Tracker]:
    t = open_tracker(pg_url, clock)
    try:
        yield t
    finally:
        t.close()


def terminate(admin: sa.Engine, conn: sa.Connection) -> None:
    """End ``conn``'s server process from another session, as an operator or a failover
    would, and wait until it is gone."""
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with admin.connect() as other:
        assert other.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"),
                             {"pid": pid}).scalar() is True


def test_a_terminated_backend_is_retried_once_and_nothing_is_recorded_twice(
        pg_tracker, server, monkeypatch) -> None:
    tracker = pg_tracker
    subscribe(tracker, server, (DELTA, HARBOUR))
    admin = sa.create_engine(PG_URL)
    real_append_in = tracker.store.append_in
    calls: list[str] = []

    def append_then_lose_the_connection(conn: sa.Connection, stream_id: str, events: Any,
                                        *args: Any) -> Any:
        calls.append(stream_id)
        if len(calls) == 2:  # one stream of the first feed already written in the transaction
            terminate(admin, conn)
        return real_append_in(conn, stream_id, events, *args)

    monkeypatch.setattr(tracker.store, "append_in", append_then_lose_the_connection)
    try:
        summary = ingest(tracker)
    finally:
        admin.dispose()

    assert summary.exit_code == 0
    assert [(o.name, o.status, o.items) for o in summary.outcomes] == \
        [(DELTA, "ok", 6), (HARBOUR, "ok", 6)]
    assert calls[:2] == calls[2:4]  # the first feed's unit of work ran again from the start
    per_item = recorded_per_item(tracker)
    assert len(per_item) == 12 and set(per_item.values()) == {1}
    ids = [e.event_id for e in tracker.store.read()]
    assert len(ids) == len(set(ids))
    assert list(tracker.store.read(types=["feed.failed"])) == []
    assert verify(tracker).ok
    assert lease_of(tracker, DELTA) == (None, None)
    assert state(tracker, DELTA)["items_recorded"] == 6


def test_a_connection_dropped_twice_fails_the_pass_and_hands_the_feed_back(
        pg_tracker, server, monkeypatch) -> None:
    tracker = pg_tracker
    subscribe(tracker, server, (DELTA,))
    head = tracker.store.head()
    admin = sa.create_engine(PG_URL)
    real_append_in = tracker.store.append_in
    attempts: list[str] = []

    def always_lose_the_connection(conn: sa.Connection, stream_id: str, events: Any,
                                   *args: Any) -> Any:
        attempts.append(stream_id)
        terminate(admin, conn)
        return real_append_in(conn, stream_id, events, *args)

    monkeypatch.setattr(tracker.store, "append_in", always_lose_the_connection)
    try:
        with pytest.raises(sa.exc.OperationalError,
                           match="terminating connection|connection is lost|server closed"):
            ingest(tracker)
    finally:
        admin.dispose()

    assert len(attempts) == 2  # one retry, no more
    assert tracker.store.head() == head
    row = state(tracker, DELTA)
    assert (row["lease_owner"], row["consecutive_failures"], row["next_due_at"]) == \
        (None, 0, None)


# -- a huge stored interval -------------------------------------------------------------------


def test_a_huge_stored_interval_does_not_break_ingest(tracker, server, clock) -> None:
    subscribe(tracker, server, (DELTA,))
    # written by a version that accepted `--every 999999999999d`
    tracker.store.append(f"feed:{DELTA}", [NewEvent(
        FEED_CHANGED, {"name": DELTA, "every_seconds": 999_999_999_999 * 86400},
        clock.now)])

    summary = ingest(tracker)

    assert [(o.name, o.status, o.items) for o in summary.outcomes] == [(DELTA, "ok", 6)]
    assert utc(state(tracker, DELTA)["next_due_at"]) == \
        clock.now + timedelta(seconds=MAX_INTERVAL_SECONDS)
    clock.advance(days=30)
    assert ingest(tracker).not_due == 1


def test_schedule_refuses_a_bad_lease_before_starting(sqlite_url, monkeypatch) -> None:
    monkeypatch.delenv(ENV_LEASE, raising=False)

    result = cli(sqlite_url, "schedule", "--lease", "2h")

    assert result.exit_code == EXIT_USAGE, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tracker: --lease '2h'")
    assert "scheduler running" not in result.output
