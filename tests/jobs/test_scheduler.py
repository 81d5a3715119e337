"""`tracker schedule`: the APScheduler daemon, run in a thread against a SQLite database whose
feeds are served on loopback."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.util import ref_to_obj
from tracker.jobs import scheduler as schedule

from tests.support.feed_server import SAMPLE_NAMES
from tracker.app import Tracker, open_tracker
from tracker.feeds import add_feed, remove_feed
from tracker.store.schema import feed_state

DELTA, GANGZHE, HARBOUR = SAMPLE_NAMES


def wait_until(check: Callable[[], Any], timeout: float) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.05)


@pytest.fixture
def tracker(sqlite_url: str) -> Iterator[Tracker]:
    t = open_tracker(sqlite_url)
    try:
        yield t
    finally:
        t.close()


class Daemon:
    """``schedule.run`` in a thread; ``scheduler`` is the handle on_start was given."""

    def __init__(self, url: str, trigger_now: tuple[str, ...] = ()) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self._handle: queue.Queue[Any] = queue.Queue()
        self._trigger = trigger_now
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()
        self.scheduler = self._handle.get(timeout=15)

    def _on_start(self, scheduler: Any) -> None:
        for job_id in self._trigger:  # run these now instead of one interval from now
            scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        self._handle.put(scheduler)

    def _run(self, url: str) -> None:
        try:
            schedule.run(url, self.stop, sync_seconds=1, on_start=self._on_start)
        except BaseException as exc:
            self.errors.append(exc)
            self._handle.put(None)

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        self.thread.join(timeout)


def recorded(tracker: Tracker, feed: str) -> int:
    return sum(1 for e in tracker.store.read(types=["item.recorded"]) if e.data["feed"] == feed)


def test_the_job_function_is_importable_where_the_job_store_says() -> None:
    from tracker.jobs import ingest as jobs

    assert ref_to_obj(schedule.INGEST_JOB) is jobs.ingest_feed


def test_scheduler_runs_feed_jobs_and_follows_subscriptions(tracker, server) -> None:
    urls = server.serve_samples()
    add_feed(tracker, DELTA, urls[DELTA], every="1m", allow_private=True)
    job_id = f"feed:{DELTA}"

    daemon = Daemon(tracker.url, trigger_now=(job_id,))
    try:
        scheduler = daemon.scheduler
        assert scheduler is not None, daemon.errors
        job = scheduler.get_job(job_id)
        assert job is not None
        assert job.func_ref == schedule.INGEST_JOB == "tracker.jobs.ingest:ingest_feed"
        assert list(job.args) == [tracker.url, DELTA]
        assert job.coalesce is True and job.max_instances == 1
        assert job.trigger.interval == timedelta(seconds=60)
        sync = scheduler.get_job(schedule.SYNC_ID)
        assert sync is not None and sync.trigger.interval == timedelta(seconds=1)
        assert sorted(j.id for j in scheduler.get_jobs()) == [job_id, schedule.SYNC_ID]

        # triggered now, the job ingests the feed through the same code as `tracker ingest`
        assert wait_until(lambda: recorded(tracker, DELTA) == 6, 15), "no items recorded"
        assert wait_until(lambda: _state(tracker, DELTA, "last_success_at") is not None, 5)
        assert len(server.seen(DELTA)) == 1
        job = scheduler.get_job(job_id)
        assert job.next_run_time > datetime.now(UTC) + timedelta(seconds=30)

        # a feed subscribed while it runs gets its job within a sync, is fetched at once,
        # then at its own interval
        add_feed(tracker, HARBOUR, urls[HARBOUR], every="2m", allow_private=True)
        added = wait_until(lambda: scheduler.get_job(f"feed:{HARBOUR}"), 5)
        assert added is not None, "no job for the new feed"
        assert added.trigger.interval == timedelta(minutes=2)
        assert list(added.args) == [tracker.url, HARBOUR]
        assert wait_until(lambda: recorded(tracker, HARBOUR) == 6, 15), "new feed not fetched"

        # a changed interval replaces the job
        add_feed(tracker, HARBOUR, urls[HARBOUR], every="5m", allow_private=True)
        assert wait_until(lambda: scheduler.get_job(f"feed:{HARBOUR}").trigger.interval
                          == timedelta(minutes=5), 5)

        # an unsubscribed feed loses its job
        remove_feed(tracker, HARBOUR)
        assert wait_until(lambda: scheduler.get_job(f"feed:{HARBOUR}") is None, 5), \
            "the removed feed's job is still scheduled"
        assert scheduler.get_job(job_id) is not None
    finally:
        started = time.monotonic()
        daemon.close()
    assert not daemon.thread.is_alive(), "the scheduler thread did not stop"
    assert time.monotonic() - started < 5
    assert daemon.errors == []
    assert not daemon.scheduler.running
    assert len(server.seen(HARBOUR)) == 1  # fetched when added; its interval never came round
    assert recorded(tracker, DELTA) == 6


def test_jobs_persist_in_the_database_across_restarts(tracker, server) -> None:
    urls = server.serve_samples((DELTA,))
    add_feed(tracker, DELTA, urls[DELTA], every="10m", allow_private=True)

    first = Daemon(tracker.url)
    first.close()
    assert not first.thread.is_alive() and first.errors == []
    with tracker.engine.connect() as conn:
        ids = sorted(conn.execute(sa.text(f"SELECT id FROM {schedule.JOB_TABLE}")).scalars())
    assert ids == [f"feed:{DELTA}"]  # the subscription sync lives with its process

    # restarted after the feed was removed: the stored job goes at the first sync
    remove_feed(tracker, DELTA)
    fetched_before = len(server.seen(DELTA))
    second = Daemon(tracker.url)
    try:
        assert second.scheduler is not None, second.errors
        assert [j.id for j in second.scheduler.get_jobs()] == [schedule.SYNC_ID]
    finally:
        second.close()
    assert not second.thread.is_alive() and second.errors == []
    assert len(server.seen(DELTA)) == fetched_before


def _state(tracker: Tracker, name: str, column: str) -> Any:
    with tracker.engine.connect() as conn:
        return conn.execute(sa.select(feed_state.c[column])
                            .where(feed_state.c.name == name)).scalar()


def test_the_lease_reaches_every_feed_job_and_a_change_replaces_them(tracker, server) -> None:
    urls = server.serve_samples((DELTA,))
    add_feed(tracker, DELTA, urls[DELTA], every="10m", allow_private=True)
    scheduler = schedule.build_scheduler(tracker.url)
    scheduler.start(paused=True)
    try:
        schedule.sync_jobs(tracker.url, scheduler)
        assert scheduler.get_job(f"feed:{DELTA}").kwargs == {}  # the setting, read at run time

        schedule.sync_jobs(tracker.url, scheduler, lease_seconds=45)
        job = scheduler.get_job(f"feed:{DELTA}")
        assert job.kwargs == {"lease_seconds": 45}
        assert list(job.args) == [tracker.url, DELTA]
    finally:
        scheduler.shutdown(wait=False)


def test_a_feed_job_takes_its_lease_for_as_long_as_it_is_told(tracker, server) -> None:
    from tracker.jobs.ingest import ingest_feed

    urls = server.serve_samples((DELTA,))
    add_feed(tracker, DELTA, urls[DELTA], allow_private=True)
    left: list[timedelta] = []
    served = server.routes[f"/{DELTA}"]

    def answer(request: Any) -> None:
        left.append(_state(tracker, DELTA, "lease_expires_at").replace(tzinfo=UTC)
                    - datetime.now(UTC))
        served(request)

    server.routes[f"/{DELTA}"] = answer

    summary = ingest_feed(tracker.url, DELTA, lease_seconds=45)

    assert [(o.status, o.items) for o in summary.outcomes] == [("ok", 6)]
    [remaining] = left
    assert timedelta(seconds=15) < remaining <= timedelta(seconds=45)
    assert _state(tracker, DELTA, "lease_owner") is None


def test_a_huge_stored_interval_is_scheduled_at_most_a_year_apart(tracker, server) -> None:
    from tracker.catalogue import FEED_CHANGED
    from tracker.events import NewEvent
    from tracker.ingest.timing import MAX_INTERVAL_SECONDS

    urls = server.serve_samples((DELTA,))
    add_feed(tracker, DELTA, urls[DELTA], allow_private=True)
    # written by a version that accepted `--every 999999999999d`
    tracker.store.append(f"feed:{DELTA}", [NewEvent(
        FEED_CHANGED, {"name": DELTA, "every_seconds": 999_999_999_999 * 86400},
        datetime.now(UTC))])
    scheduler = schedule.build_scheduler(tracker.url)
    scheduler.start(paused=True)
    try:
        schedule.sync_jobs(tracker.url, scheduler)
        job = scheduler.get_job(f"feed:{DELTA}")
        assert job.trigger.interval == timedelta(seconds=MAX_INTERVAL_SECONDS)
        schedule.sync_jobs(tracker.url, scheduler)  # and the next sync leaves it be
        assert scheduler.get_job(f"feed:{DELTA}").trigger.interval == job.trigger.interval
    finally:
        scheduler.shutdown(wait=False)
