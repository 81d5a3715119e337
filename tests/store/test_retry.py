"""Transient contention (a lock timeout) retries the whole unit of work; real errors do not."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tracker.app import open_tracker
from tracker.db import is_transient, retrying
from tracker.errors import ConcurrencyError
from tracker.events import NewEvent
from tracker.store.eventstore import APPEND_LOCK_KEY

EVENT = NewEvent("test.appended", {"n": 1}, datetime(2025, 1, 1, tzinfo=UTC))


def test_append_retries_after_a_lock_timeout_on_postgres(pg_url):
    url = pg_url.replace("options=", f"options={quote('-clock_timeout=150 ')}")
    tracker = open_tracker(url)
    holder = sa.create_engine(pg_url)
    held = threading.Event()

    def hold_lock() -> None:
        with holder.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
            held.set()
            time.sleep(0.6)  # longer than one lock timeout, shorter than the retries in all

    thread = threading.Thread(target=hold_lock)
    thread.start()
    held.wait(5)
    try:
        [event] = tracker.store.append("s", [EVENT])
        assert event.position == 1
    finally:
        thread.join()
        holder.dispose()
        tracker.close()


def test_lock_timeout_is_transient_and_version_conflict_is_not(pg_url):
    url = pg_url.replace("options=", f"options={quote('-clock_timeout=50 ')}")
    engine = sa.create_engine(url)
    other = sa.create_engine(pg_url)
    try:
        with other.begin() as holder:
            holder.execute(sa.text("SELECT pg_advisory_xact_lock(1)"))
            with pytest.raises(sa.exc.OperationalError) as info, engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(1)"))
        assert is_transient(info.value)
        assert not is_transient(ConcurrencyError("stream moved on"))
    finally:
        engine.dispose()
        other.dispose()


def test_retrying_gives_up_after_bounded_attempts():
    calls = 0

    class Locked(Exception):
        pass

    error = sa.exc.OperationalError("INSERT", {}, Locked("database is locked"))

    @retrying
    def always_locked() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(sa.exc.OperationalError):
        always_locked()
    assert calls == 5


def test_retrying_does_not_repeat_other_errors():
    calls = 0

    @retrying
    def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug, not contention")

    with pytest.raises(ValueError):
        broken()
    assert calls == 1
