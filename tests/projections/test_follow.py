"""Following the log: projections kept caught up, once per event, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from tests.support import counting, workers
from tracker import migrate
from tracker.app import Tracker, connect, open_tracker
from tracker.db import make_engine
from tracker.follow import follow
from tracker.projector import Projector


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@contextmanager
def following(projector: Projector, engine: Engine, poll_interval: float,
              batches: list[tuple[int, Mapping[str, int]]] | None = None) -> Iterator[None]:
    """Run ``follow`` in a thread for the block; it must stop within 2 s and not have failed."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            follow(projector, engine, stop=stop, poll_interval=poll_interval,
                   on_batch=None if batches is None else lambda n, c: batches.append((n, c)))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        started = time.monotonic()
        thread.join(timeout=5)
        assert not thread.is_alive(), "follow did not return after stop was set"
        assert time.monotonic() - started < 2
    assert not errors, errors


@pytest.fixture
def tracker(db_url: str) -> Iterator[Tracker]:
    opened = open_tracker(db_url)
    yield opened
    opened.close()


def append(tracker: Tracker, start: int, count: int) -> None:
    tracker.store.append("s", [counting.event(start + i) for i in range(count)])


def test_long_poll_interval_still_catches_up_within_seconds(tracker):
    """A 30 s fallback poll: on PostgreSQL NOTIFY wakes the follower, on SQLite the head check."""
    projector = counting.projector(tracker.engine)
    batches: list[tuple[int, Mapping[str, int]]] = []
    with following(projector, tracker.engine, 30.0, batches):
        assert wait_until(lambda: projector.checkpoint(counting.COUNTING) is not None, 5)
        time.sleep(0.3)
        for round_start in (0, 3):
            started = time.monotonic()
            append(tracker, round_start, 3)
            assert wait_until(lambda n=round_start + 3: counting.counted(tracker.engine)[0] == n, 5)
            assert time.monotonic() - started < 5
    assert counting.counted(tracker.engine) == (6, [1, 2, 3, 4, 5, 6])
    assert sum(n for n, _ in batches) == 6
    assert batches[-1][1] == {counting.COUNTING: 6}


def test_restarted_follower_resumes_from_its_checkpoint(tracker):
    first = counting.projector(tracker.engine)
    with following(first, tracker.engine, 0.2):
        append(tracker, 0, 4)
        assert wait_until(lambda: counting.counted(tracker.engine)[0] == 4, 10)
    append(tracker, 4, 3)
    assert first.checkpoint(counting.COUNTING).position == 4

    restarted = connect(tracker.url)
    try:
        with following(counting.projector(restarted.engine), restarted.engine, 0.2):
            assert wait_until(lambda: counting.counted(tracker.engine)[0] == 7, 10)
    finally:
        restarted.close()
    assert counting.counted(tracker.engine) == (7, list(range(1, 8)))


@pytest.mark.slow
def test_concurrent_followers_apply_each_event_once(db_url, tracker):
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    report = ctx.Queue()
    followers = [ctx.Process(target=workers.run_follower, args=(db_url, stop, 0.2, report))
                 for _ in range(2)]
    batches, size = 50, 2
    total = batches * size
    for process in followers:
        process.start()
    try:
        assert [report.get(timeout=30) for _ in followers] == ["ready", "ready"]
        writer = ctx.Process(target=workers.append_events, args=(db_url, batches, size, 0.02))
        writer.start()
        writer.join(timeout=40)
        assert writer.exitcode == 0
        assert tracker.store.head() == total
        assert wait_until(lambda: counting.counted(tracker.engine)[0] >= total, 20)
        time.sleep(0.5)  # a follower that was going to apply something twice has had its chance
    finally:
        stop.set()
        for process in followers:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    assert [process.exitcode for process in followers] == [0, 0]
    assert sum(report.get(timeout=5) for _ in followers) == total
    count, positions = counting.counted(tracker.engine)
    assert count == total
    assert positions == list(range(1, total + 1))
    assert counting.projector(tracker.engine).checkpoint(counting.COUNTING).position == total


def test_stop_is_honoured_promptly_with_nothing_to_do(tracker):
    with following(counting.projector(tracker.engine), tracker.engine, 30.0):
        time.sleep(0.3)


def test_poll_interval_must_be_positive(tracker):
    with pytest.raises(ValueError):
        follow(counting.projector(tracker.engine), tracker.engine, stop=threading.Event(),
               poll_interval=0)


def _notify_trigger_exists(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'events_notify' AND c.relname = 'events' "
            "AND c.relnamespace = to_regnamespace(current_schema())::oid")).scalar())


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        config = migrate._config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_append_notifies_and_downgrade_removes_the_trigger(pg_url):
    tracker = open_tracker(pg_url)
    fairy = tracker.engine.raw_connection()
    try:
        listener = fairy.driver_connection
        listener.rollback()
        listener.autocommit = True
        listener.execute("LISTEN tracker_events")
        append(tracker, 0, 3)
        got = list(listener.notifies(timeout=5, stop_after=1))
        # the channel is database-wide: other tests' appends may notify too
        assert got and {n.channel for n in got} == {"tracker_events"}
        assert _notify_trigger_exists(tracker.engine)

        _downgrade(tracker.engine, "0001")
        assert not _notify_trigger_exists(tracker.engine)
        migrate.upgrade(tracker.engine)
        assert _notify_trigger_exists(tracker.engine)
    finally:
        fairy.invalidate()
        tracker.close()


def test_sqlite_migration_adds_no_trigger(sqlite_url):
    tracker = open_tracker(sqlite_url)
    with tracker.engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
    _downgrade(tracker.engine, "0001")
    tracker.close()
    assert sorted(names) == ["events_no_delete", "events_no_update"]


def test_follower_survives_losing_its_listen_connection(pg_url):
    open_tracker(pg_url).close()
    name = f"follow-test-{uuid.uuid4().hex[:8]}"
    engine = make_engine(pg_url, connect_args={"application_name": name})
    writer = connect(pg_url)
    projector = counting.projector(engine)
    try:
        with following(projector, engine, 0.5):
            assert wait_until(lambda: projector.checkpoint(counting.COUNTING) is not None, 5)
            assert wait_until(lambda: _terminate_listener(writer.engine, name), 5)
            append(writer, 0, 2)
            assert wait_until(lambda: counting.counted(engine)[0] == 2, 10)
            assert wait_until(lambda: _listening(writer.engine, name), 5)
            append(writer, 2, 2)
            assert wait_until(lambda: counting.counted(engine)[0] == 4, 10)
    finally:
        writer.close()
        engine.dispose()


def _listening(engine: Engine, application_name: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
            "AND query LIKE 'LISTEN%'"), {"name": application_name}).scalar())


def _terminate_listener(engine: Engine, application_name: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = :name AND query LIKE 'LISTEN%') AS killed"),
            {"name": application_name}).scalar())
