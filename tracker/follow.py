"""Keeping every projection caught up with the log as events arrive.

``follow`` alternates catching up and waiting. On PostgreSQL it waits on ``LISTEN
tracker_events`` (the trigger of migration 0002 notifies on every append), over a connection of
its own opened *before* each catch-up, so an event committed while catching up still wakes it.
Notifications are lost while that connection is down, so it also catches up every
``poll_interval`` seconds whatever happens. SQLite has no notifications: it checks the log's head
every few tenths of a second, which is a cheap read that does not take the write lock.

Progress lives in the projector's checkpoints, committed with the projection rows, so a
restarted follower resumes where the last one stopped, and several followers can run at once:
each batch locks its checkpoint, so no event is applied twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.db import is_sqlite
from tracker.projector import Projector
from tracker.store import EventStore

CHANNEL: Final = "tracker_events"
#: How often SQLite followers look for new events, whatever ``poll_interval`` says.
SQLITE_POLL_S: Final = 0.2
#: Longest stretch spent waiting without looking at ``stop``.
STOP_CHECK_S: Final = 0.5
#: Longest pause between retries after the database failed.
MAX_BACKOFF_S: Final = 30.0

#: Called after a catch-up that applied events: (events applied, checkpoint per projection).
OnBatch = Callable[[int, Mapping[str, int]], None]

log = logging.getLogger(__name__)

_TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class _Stopped(Exception):
    """Raised from the projector's progress callback to leave a long catch-up between batches."""


class _Waiter(Protocol):
    def prepare(self) -> None:
        """Called before each catch-up: whatever commits after this must end the next wait."""

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Return on news, on ``stop``, or after ``timeout`` seconds."""

    def close(self) -> None: ...


class _HeadPoller:
    """Wakes when the log's head moves: SQLite's stand-in for notifications."""

    def __init__(self, store: EventStore, interval: float) -> None:
        self.store = store
        self.interval = interval
        self.seen: int | None = None

    def prepare(self) -> None:
        try:
            self.seen = self.store.head()
        except _TRANSIENT:
            self.seen = None

    def wait(self, stop: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if stop.wait(min(self.interval, remaining)):
                return
            try:
                if self.store.head() != self.seen:
                    return
            except _TRANSIENT:
                return

    def close(self) -> None:
        pass


class _Listener:
    """``LISTEN`` on a dedicated psycopg connection, detached from the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pooled: Any = None
        self.conn: Any = None

    def prepare(self) -> None:
        if self.conn is not None:
            return
        try:
            pooled = self.engine.raw_connection()
        except _TRANSIENT as exc:
            log.warning("cannot LISTEN %s, polling instead: %s", CHANNEL, _first_line(exc))
            return
        try:
            conn: Any = pooled.driver_connection
            pooled.detach()
            conn.rollback()
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            pooled.close()
            log.warning("cannot LISTEN %s, polling instead: %s", CHANNEL, _first_line(exc))
            return
        self.pooled, self.conn = pooled, conn

    def wait(self, stop: threading.Event, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            step = min(STOP_CHECK_S, remaining)
            if self.conn is None:
                if stop.wait(step):
                    return
                continue
            if stop.is_set():
                return
            try:
                woken = False
                for _ in self.conn.notifies(timeout=step, stop_after=1):
                    woken = True
                if woken:
                    for _ in self.conn.notifies(timeout=0):
                        pass  # one catch-up serves every append already announced
                    return
            except psycopg.Error as exc:
                log.warning("lost the LISTEN connection: %s", _first_line(exc))
                self.close()
                return

    def close(self) -> None:
        pooled, self.pooled, self.conn = self.pooled, None, None
        if pooled is not None:
            try:
                pooled.close()
            except Exception as exc:
                log.debug("closing the LISTEN connection failed: %s", _first_line(exc))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def follow(projector: Projector, engine: Engine, *, stop: threading.Event,
           poll_interval: float = 1.0, on_batch: OnBatch | None = None) -> None:
    """Keep every projection of ``projector`` caught up until ``stop`` is set.

    Returns within about a second of ``stop`` (a batch in progress is finished first). Database
    errors that may pass (a lost connection, a locked SQLite file) are logged and retried with
    backoff; anything else propagates.
    """
    if poll_interval <= 0:
        raise ValueError("poll_interval must be positive")
    waiter: _Waiter = (_HeadPoller(projector.store, min(SQLITE_POLL_S, poll_interval))
                       if is_sqlite(engine) else _Listener(engine))
    failures = 0
    try:
        while not stop.is_set():
            waiter.prepare()
            applied = 0

            def progress(count: int) -> None:
                nonlocal applied
                applied += count
                if stop.is_set():
                    raise _Stopped

            try:
                checkpoints = projector.catch_up(progress=progress)
            except _Stopped:
                return
            except _TRANSIENT as exc:
                failures += 1
                delay = min(poll_interval * 2 ** min(failures, 10), MAX_BACKOFF_S)
                log.warning("catching up failed (retrying in %.1f s): %s", delay,
                            _first_line(exc))
                stop.wait(delay)
                continue
            failures = 0
            if applied and on_batch is not None:
                on_batch(applied, checkpoints)
            waiter.wait(stop, poll_interval)
    finally:
        waiter.close()


__all__ = ["CHANNEL", "OnBatch", "follow"]
