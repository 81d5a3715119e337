"""One ingest pass: fetch the feeds that are due, record what is new, move the feed's state.

Each feed is its own unit of work: its new events and its HTTP cache state commit in one
transaction, under a per-feed lease so that concurrent runs (or workers on other machines)
never fetch the same feed at once. One feed's failure never stops the others.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.db import retrying, write_connection
from tracker.errors import UsageError
from tracker.events import NewEvent, utc
from tracker.ingest import fetch, identity, parse, relevance, schedule
from tracker.ingest.plan import Carried, FeedOutcome, FeedPlanner, Prepared, prepare
from tracker.ingest.subscriptions import FEED_TYPES, Subscription, current
from tracker.store.schema import feed_state

#: Exit code of ``tracker ingest`` when at least one feed failed (the others were ingested).
EXIT_SOME_FAILED = 6
LEASE_SECONDS = 600
BACKOFF_BASE_S = 60.0
BACKOFF_CEILING_S = 6 * 3600.0

Fetcher = Callable[..., fetch.FetchResult]


@dataclass
class IngestSummary:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    not_due: int = 0

    @property
    def failed(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FAILED if self.failed else 0

    def line(self) -> str:
        total = sum(o.items for o in self.outcomes)
        new_stories = sum(o.stories for o in self.outcomes)
        fetched = [o for o in self.outcomes if o.status != "busy"]
        return (f"ingest: {len(fetched)} feed(s) polled, {len(self.failed)} failed, "
                f"{self.not_due} not due; {total} new item(s), {new_stories} new stor(y/ies)")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def subscriptions(tracker: Tracker) -> dict[str, Subscription]:
    return current(tracker.store.read(types=sorted(FEED_TYPES)))


def ingest(tracker: Tracker, *, feed: str | None = None, due_only: bool | None = None,
           dry_run: bool = False,
           rules: relevance.Rules | None = None, fetcher: Fetcher = fetch.fetch,
           rng: random.Random | None = None, worker: str | None = None,
           timeout: Any = None) -> IngestSummary:
    """One pass over the feeds that are due, or over the one named.

    A named feed is fetched whether due or not, unless ``due_only`` (the scheduler's jobs:
    they fire on the feed's interval but must still respect backoff, Retry-After and TTL).
    """
    if due_only is None:
        due_only = feed is None
    subs = subscriptions(tracker)
    if feed is not None and feed not in subs:
        raise UsageError(f"no feed named {feed!r} (see `tracker feeds list`)")
    rules = rules or relevance.load_rules()
    rng = rng or random.Random()
    worker = worker or worker_name()
    summary = IngestSummary()
    carried = Carried() if dry_run else None  # later feeds of a dry run see earlier plans
    states = _states(tracker)
    now = utc(tracker.now())
    for sub in sorted(subs.values(), key=lambda s: s.name):
        if feed is not None and sub.name != feed:
            continue
        state = states.get(sub.name, {})
        due_at = state.get("next_due_at")
        if due_only and due_at is not None and utc(due_at) > now:
            summary.not_due += 1
            continue
        job = _FeedJob(tracker, sub, state, rules, fetcher, rng, worker, dry_run, timeout,
                       scheduled=due_only, carried=carried)
        outcome = job.run()
        if outcome is None:  # another worker polled it since the states were read
            summary.not_due += 1
            continue
        summary.outcomes.append(outcome)
    return summary


def _states(tracker: Tracker) -> dict[str, dict[str, Any]]:
    with tracker.engine.connect() as conn:
        return {row.name: dict(row._mapping) for row in conn.execute(sa.select(feed_state))}


class _FeedJob:
    def __init__(self, tracker: Tracker, sub: Subscription, state: Mapping[str, Any],
                 rules: relevance.Rules, fetcher: Fetcher, rng: random.Random, worker: str,
                 dry_run: bool, timeout: Any, scheduled: bool = False,
                 carried: Carried | None = None) -> None:
        self.tracker = tracker
        self.sub = sub
        self.state = state
        self.rules = rules
        self.fetcher = fetcher
        self.rng = rng
        self.worker = worker
        self.dry_run = dry_run
        self.timeout = timeout
        self.scheduled = scheduled  # only if due (not named by the caller)
        self.stream = f"feed:{sub.name}"
        self.planner = FeedPlanner(sub.name, worker, carried)

    def run(self) -> FeedOutcome | None:
        """The feed's outcome, or None when a scheduled run finds it no longer due."""
        if not self.dry_run:
            lease = self._take_lease()
            if lease == "not_due":
                return None
            if lease == "busy":
                return FeedOutcome(self.sub.name, "busy",
                                   message="another worker holds its lease")
        try:
            return self._run()
        except Exception as exc:  # a feed's failure must never stop the others
            message = _one_line(exc)
            if not self.dry_run:
                try:
                    self._record_failure(message, getattr(exc, "retry_after_seconds", None))
                except Exception as record_exc:  # nor a failure to record it (the lease lapses)
                    message = f"{message} (recording the failure failed: " \
                              f"{_one_line(record_exc)})"
            return FeedOutcome(self.sub.name, "failed", message=message)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): hand the feed back at once
            if not self.dry_run:
                self._release_lease()
            raise

    def _release_lease(self) -> None:
        try:
            with write_connection(self.tracker.engine) as conn, conn.begin():
                conn.execute(feed_state.update().where(
                    feed_state.c.name == self.sub.name,
                    feed_state.c.lease_owner == self.worker,
                ).values(lease_owner=None, lease_expires_at=None))
        except Exception:  # the lease then simply expires
            pass

    def _run(self) -> FeedOutcome:
        fetched_at = utc(self.tracker.now())
        kwargs: dict[str, Any] = {"etag": self.state.get("etag"),
                                  "last_modified": self.state.get("last_modified"),
                                  "allow_local": self.sub.allow_local}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        result = self.fetcher(self.sub.url, **kwargs)
        if result.not_modified:
            if not self.dry_run:
                self._record_success(result, None, [], fetched_at)
            return FeedOutcome(self.sub.name, "not_modified")
        parsed = parse.parse_feed(result.body, result.headers, fetched_at=fetched_at,
                                  base_url=result.final_url or self.sub.url)
        items, duplicates = identity.dedupe_items(parsed.items)
        warnings = list(parsed.warnings)
        if duplicates:
            warnings.append(f"{duplicates} duplicate item id(s) ignored")
        prepared = [prepare(item, self.rules) for item in items]
        if self.dry_run:
            with self.tracker.engine.connect() as conn:
                outcome, _batches = self.planner.plan(conn, prepared, fetched_at)
            outcome.status = "dry_run"
        else:
            outcome = self._record_success(result, parsed, prepared, fetched_at)
        if warnings:
            outcome.message = "; ".join(dict.fromkeys(warnings))[:300]
        return outcome

    # -- writing ---------------------------------------------------------------------------

    @retrying
    def _record_success(self, result: fetch.FetchResult, parsed: parse.ParsedFeed | None,
                        prepared: list[Prepared], fetched_at: datetime) -> FeedOutcome:
        now = utc(self.tracker.now())
        # a 304 has no body: the <ttl> learnt from the last full fetch still applies
        ttl = parsed.ttl_minutes if parsed else self.state.get("ttl_minutes")
        due = schedule.next_due(now, every_seconds=self.sub.every_seconds,
                                ttl_minutes=ttl,
                                cache_max_age=result.cache_max_age_seconds,
                                retry_after=result.retry_after_seconds)
        with write_connection(self.tracker.engine) as conn, conn.begin():
            self.tracker.store.lock(conn)
            outcome, batches = self.planner.plan(conn, prepared, fetched_at)
            if result.permanent_redirect and result.final_url \
                    and result.final_url != self.sub.url:
                batches.setdefault(self.stream, []).append(NewEvent(
                    "feed.changed", {"name": self.sub.name, "url": result.final_url,
                                     "reason": "permanent redirect"},
                    now, meta=self.planner.meta()))
            failures = int(self.state.get("consecutive_failures") or 0)
            if failures:
                batches.setdefault(self.stream, []).append(NewEvent(
                    "feed.recovered", {"name": self.sub.name, "after_failures": failures},
                    now, meta=self.planner.meta()))
            for stream_id, new_events in batches.items():
                self.tracker.store.append_in(conn, stream_id, new_events)
            values: dict[str, Any] = {
                "next_due_at": due, "consecutive_failures": 0, "last_attempt_at": now,
                "last_success_at": now, "lease_owner": None, "lease_expires_at": None,
                "items_recorded": feed_state.c.items_recorded + outcome.items}
            if not result.not_modified:
                values["etag"] = result.etag
                values["last_modified"] = result.last_modified
                values["ttl_minutes"] = ttl
            conn.execute(feed_state.update().where(feed_state.c.name == self.sub.name)
                         .values(**values))
        return outcome

    @retrying
    def _record_failure(self, message: str, retry_after: float | None = None) -> None:
        now = utc(self.tracker.now())
        failures = int(self.state.get("consecutive_failures") or 0) + 1
        due = schedule.next_retry(now, failures, base=BACKOFF_BASE_S, ceiling=BACKOFF_CEILING_S,
                                  rng=self.rng, retry_after=retry_after)
        worth_reporting = (failures == 1 or message != self.state.get("last_error")
                           or failures % 10 == 0)
        with write_connection(self.tracker.engine) as conn, conn.begin():
            if worth_reporting:
                self.tracker.store.append_in(conn, self.stream, [NewEvent(
                    "feed.failed", {"name": self.sub.name, "error": message,
                                    "consecutive_failures": failures},
                    now, meta=self.planner.meta())])
            conn.execute(feed_state.update().where(feed_state.c.name == self.sub.name).values(
                consecutive_failures=failures, last_attempt_at=now, last_error=message,
                last_error_at=now, next_due_at=due, lease_owner=None, lease_expires_at=None))

    @retrying
    def _take_lease(self) -> str:
        """"taken" (and ``self.state`` re-read under the lease), "busy" or "not_due".

        The state the pass read at its start may be stale by now (another worker may have
        polled the feed since): the lease is only taken while the feed is still due, and the
        job goes by the row as it is once the lease is held.
        """
        now = utc(self.tracker.now())
        with write_connection(self.tracker.engine) as conn, conn.begin():
            exists = conn.execute(sa.select(feed_state.c.name).where(
                feed_state.c.name == self.sub.name)).first()
            if exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(feed_state.insert().values(name=self.sub.name))
                except sa.exc.IntegrityError:
                    pass
            free = sa.or_(feed_state.c.lease_owner.is_(None),
                          feed_state.c.lease_expires_at < now,
                          feed_state.c.lease_owner == self.worker)
            due = sa.or_(feed_state.c.next_due_at.is_(None), feed_state.c.next_due_at <= now)
            taken = conn.execute(feed_state.update().where(
                feed_state.c.name == self.sub.name, free, *([due] if self.scheduled else []),
            ).values(lease_owner=self.worker,
                     lease_expires_at=now + timedelta(seconds=LEASE_SECONDS)))
            row = conn.execute(sa.select(feed_state).where(
                feed_state.c.name == self.sub.name)).first()
            if taken.rowcount == 1 and row is not None:
                self.state = dict(row._mapping)
                return "taken"
            if self.scheduled and row is not None and row.next_due_at is not None \
                    and utc(row.next_due_at) > now:
                return "not_due"
            return "busy"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
