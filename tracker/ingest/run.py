"""One ingest pass: fetch the feeds that are due, record what is new, move the feed's state.

Each feed is its own unit of work: its new events and its HTTP cache state commit in one
transaction, under a per-feed lease so that concurrent runs (or workers on other machines)
never fetch the same feed at once. The lease is short and renewed by a heartbeat while the feed
is worked on, so a worker killed outright holds its feed only briefly; a feed another worker
holds is reported as busy. A feed's own failure (fetch, parse) is recorded and never stops the
others; anything else is a bug or a database failure (a dropped connection is retried once): it
propagates, with the feed's lease handed back and its state untouched.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.catalogue import FEED_CHANGED, FEED_FAILED, FEED_RECOVERED, SUBSCRIPTION_TYPES
from tracker.config import DEFAULT_LEASE_SECONDS
from tracker.dates import utc
from tracker.db import retrying, write_connection
from tracker.errors import EXIT_OK, EXIT_SOME_FEEDS_FAILED, UsageError
from tracker.events import NewEvent
from tracker.ingest import fetch, identity, parse, relevance, timing, transport
from tracker.ingest.decide import (
    Outlet,
    Plan,
    Prepared,
    actor_meta,
    decide,
    feed_stream,
    prepare,
)
from tracker.ingest.knowledge import Knowledge
from tracker.ingest.subscriptions import Subscription, current
from tracker.rules_log import rules_by_policy
from tracker.store.schema import feed_state

if TYPE_CHECKING:
    import httpx

#: What a feed itself can get wrong: these are recorded as ``feed.failed`` and backed off.
FEED_ERRORS: tuple[type[Exception], ...] = (fetch.FetchError, parse.FeedError)
LEASE_SECONDS = DEFAULT_LEASE_SECONDS
BACKOFF_BASE_S = 60.0
BACKOFF_CEILING_S = 6 * 3600.0

Fetcher = Callable[..., fetch.FetchResult]

log = logging.getLogger("tracker.ingest")


@dataclass
class FeedOutcome:
    name: str
    status: str  # ok | not_modified | failed | busy | dry_run
    items: int = 0
    stories: int = 0
    corroborations: int = 0
    revisions: int = 0
    facts: int = 0
    message: str = ""
    lease_owner: str | None = None  # busy: who holds the feed, and until when
    lease_expires_at: datetime | None = None

    @classmethod
    def of(cls, name: str, status: str, plan: Plan) -> FeedOutcome:
        return cls(name, status, items=plan.items, stories=plan.stories,
                   corroborations=plan.corroborations, revisions=plan.revisions,
                   facts=plan.facts)

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.name}: FAILED {self.message}"
        if self.status == "busy":
            return f"{self.name}: busy: {self.message}"
        if self.status == "not_modified":
            return f"{self.name}: not modified"
        parts = [f"{self.items} new item(s)", f"{self.stories} new stor(y/ies)",
                 f"{self.corroborations} corroboration(s)", f"{self.revisions} revision(s)",
                 f"{self.facts} fact(s)"]
        prefix = "would record " if self.status == "dry_run" else ""
        warn = f" (warning: {self.message})" if self.message else ""
        return f"{self.name}: {prefix}{', '.join(parts)}{warn}"

    def as_dict(self) -> dict[str, Any]:
        expires = self.lease_expires_at
        return {"name": self.name, "status": self.status, "items": self.items,
                "stories": self.stories, "corroborations": self.corroborations,
                "revisions": self.revisions, "facts": self.facts, "message": self.message,
                "lease_owner": self.lease_owner,
                "lease_expires_at": _stamp(expires) if expires is not None else None}


@dataclass
class IngestSummary:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    not_due: int = 0

    @property
    def failed(self) -> list[FeedOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def busy(self) -> list[FeedOutcome]:
        """Feeds skipped because another worker holds their lease."""
        return [o for o in self.outcomes if o.status == "busy"]

    @property
    def exit_code(self) -> int:
        return EXIT_SOME_FEEDS_FAILED if self.failed else EXIT_OK

    def line(self) -> str:
        total = sum(o.items for o in self.outcomes)
        new_stories = sum(o.stories for o in self.outcomes)
        polled = len(self.outcomes) - len(self.busy)
        busy = f", {len(self.busy)} busy" if self.busy else ""
        return (f"ingest: {polled} feed(s) polled, {len(self.failed)} failed, "
                f"{self.not_due} not due{busy}; {total} new item(s), "
                f"{new_stories} new stor(y/ies)")

    def report(self) -> dict[str, Any]:
        """The pass as ``tracker ingest --format json`` prints it."""
        return {"polled": len(self.outcomes) - len(self.busy), "failed": len(self.failed),
                "not_due": self.not_due, "busy": len(self.busy),
                "items": sum(o.items for o in self.outcomes),
                "stories": sum(o.stories for o in self.outcomes),
                "feeds": [o.as_dict() for o in self.outcomes]}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def subscriptions(tracker: Tracker) -> dict[str, Subscription]:
    return current(tracker.store.read(types=SUBSCRIPTION_TYPES))


def ingest(tracker: Tracker, *, feed: str | None = None, due_only: bool | None = None,
           dry_run: bool = False,
           rules: Mapping[str, relevance.Rules] | None = None, fetcher: Fetcher = fetch.fetch,
           rng: random.Random | None = None, worker: str | None = None,
           timeout: Any = None, lease_seconds: float = LEASE_SECONDS,
           renew_every: float | None = None) -> IngestSummary:
    """One pass over the feeds that are due, or over the one named.

    A named feed is fetched whether due or not, unless ``due_only`` (the scheduler's jobs:
    they fire on the feed's interval but must still respect backoff, Retry-After and TTL).
    Each item is classified for every tracked dossier under its rules (``rules``: per policy).
    A feed's lease lasts ``lease_seconds`` and is renewed every ``renew_every`` seconds (a
    third of the lease unless given) while the feed is fetched and recorded.
    """
    if lease_seconds <= 0 or (renew_every is not None and renew_every <= 0):
        raise ValueError("a lease and its renewal interval must be positive")
    if due_only is None:
        due_only = feed is None
    subs = subscriptions(tracker)
    if feed is not None and feed not in subs:
        raise UsageError(f"no feed named {feed!r} (see `tracker feeds list`)")
    rules = rules or rules_by_policy(tracker)  # each dossier's active rules.set
    rng = rng or random.Random()
    worker = worker or worker_name()
    summary = IngestSummary()
    knowledge = Knowledge(tracker.store)
    states = _states(tracker)
    now = utc(tracker.now())
    http = _PassClient() if fetcher is fetch.fetch else None  # a fetcher of its own: as is
    try:
        for sub in sorted(subs.values(), key=lambda s: s.name):
            if feed is not None and sub.name != feed:
                continue
            state = states.get(sub.name, {})
            due_at = state.get("next_due_at")
            if due_only and due_at is not None and utc(due_at) > now:
                summary.not_due += 1
                continue
            job = _FeedJob(tracker, sub, state, rules, fetcher, rng, worker, dry_run, timeout,
                           scheduled=due_only, knowledge=knowledge,
                           lease=_Lease(lease_seconds, renew_every or lease_seconds / 3),
                           http=http)
            outcome = job.run()
            if outcome is None:  # another worker polled it since the states were read
                summary.not_due += 1
                continue
            summary.outcomes.append(outcome)
    finally:
        if http is not None:
            http.close()
    return summary


class _PassClient:
    """The HTTP client of one pass, made at its first fetch and shared by every feed (making
    one, with its connection pools, cost about 40 ms a feed). Its transport keeps the pools of
    feeds that may reach internal addresses apart from the others' (``transport.make_client``)."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None

    def get(self) -> httpx.Client:
        if self._client is None:
            self._client = transport.make_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _states(tracker: Tracker) -> dict[str, dict[str, Any]]:
    with tracker.engine.connect() as conn:
        return {row.name: dict(row._mapping) for row in conn.execute(sa.select(feed_state))}


@dataclass(frozen=True)
class _Lease:
    seconds: float
    renew_every: float


class _Heartbeat:
    """Renews a held lease from a background thread while the job works on the feed, so a
    short lease (what a killed worker costs) still outlasts a slow fetch or a long write.

    A renewal that fails (the database busy for a moment) is logged and tried again at the
    next beat; the lease would then at worst lapse, and appends are idempotent. ``renew``
    returns False once the lease is no longer this job's: the heartbeat then stops."""

    def __init__(self, renew: Callable[[], bool], every: float) -> None:
        self._renew = renew
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="feed lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not self._renew():
                    return
            except Exception as exc:  # the next beat tries again; the job itself goes on
                log.warning("could not renew a feed lease: %s", _one_line(exc))


class _FeedJob:
    def __init__(self, tracker: Tracker, sub: Subscription, state: Mapping[str, Any],
                 rules: Mapping[str, relevance.Rules], fetcher: Fetcher, rng: random.Random,
                 worker: str,
                 dry_run: bool, timeout: Any, knowledge: Knowledge,
                 scheduled: bool = False, lease: _Lease | None = None,
                 http: _PassClient | None = None) -> None:
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
        self.stream = feed_stream(sub.name)
        self.actor = f"ingest@{worker}"
        self.knowledge = knowledge
        self.lease = lease or _Lease(LEASE_SECONDS, LEASE_SECONDS / 3)
        self.holder: tuple[str | None, datetime | None] = (None, None)
        self.http = http

    def run(self) -> FeedOutcome | None:
        """The feed's outcome, or None when a scheduled run finds it no longer due."""
        if self.dry_run:
            return self._attempt()
        try:
            lease = self._take_lease()
            if lease == "not_due":
                return None
            if lease == "busy":
                return self._busy()
            with _Heartbeat(self._renew_lease, self.lease.renew_every):
                return self._attempt()
        except BaseException:  # a bug, the database, or an interrupt: hand the feed back as is
            self._release_lease()
            raise

    def _attempt(self) -> FeedOutcome:
        try:
            return self._run()
        except FEED_ERRORS as exc:  # the feed's own failure: recorded, the others go on
            message = _one_line(exc)
            if not self.dry_run:
                self._record_failure(message, getattr(exc, "retry_after_seconds", None))
            return FeedOutcome(self.sub.name, "failed", message=message)

    def _busy(self) -> FeedOutcome:
        owner, expires = self.holder
        if owner is None or expires is None:  # released between the two statements
            return FeedOutcome(self.sub.name, "busy", message="another worker held its lease")
        return FeedOutcome(self.sub.name, "busy",
                           message=f"leased by {owner} until {_stamp(expires)}",
                           lease_owner=owner, lease_expires_at=utc(expires))

    def _renew_lease(self) -> bool:
        """Push the lease out again from now; False once this worker no longer holds it (its
        own write released it, or it lapsed and another worker took it: worth a warning)."""
        now = utc(self.tracker.now())
        with write_connection(self.tracker.engine) as conn, conn.begin():
            renewed = conn.execute(feed_state.update().where(
                feed_state.c.name == self.sub.name,
                feed_state.c.lease_owner == self.worker,
            ).values(lease_expires_at=now + timedelta(seconds=self.lease.seconds)))
            if renewed.rowcount == 1:
                return True
            owner = conn.execute(sa.select(feed_state.c.lease_owner).where(
                feed_state.c.name == self.sub.name)).scalar()
        if owner is not None:
            log.warning("%s: its lease lapsed and %s took the feed over", self.sub.name, owner)
        return False

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
                                  "allow_local": self.sub.allow_local,
                                  "allow_private": self.sub.allow_private}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        if self.http is not None:
            kwargs["client"] = self.http.get()
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
                plan = self._plan(conn, prepared, fetched_at)
            self.knowledge.remember(plan)
            outcome = FeedOutcome.of(self.sub.name, "dry_run", plan)
        else:
            outcome = self._record_success(result, parsed, prepared, fetched_at)
        if warnings:
            outcome.message = "; ".join(dict.fromkeys(warnings))[:300]
        return outcome

    def _plan(self, conn: sa.Connection, prepared: list[Prepared],
              fetched_at: datetime) -> Plan:
        """Load what the log knows (on ``conn``), decide, and leave out what it holds."""
        known = self.knowledge.for_feed(conn, self.sub.name, prepared)
        plan = decide(self.sub.name, prepared, known, fetched_at=fetched_at, actor=self.actor,
                      outlet=Outlet(self.sub.publisher, self.sub.tier))
        return plan.without(self.knowledge.stored(conn, plan))

    # -- writing ---------------------------------------------------------------------------

    @retrying
    def _record_success(self, result: fetch.FetchResult, parsed: parse.ParsedFeed | None,
                        prepared: list[Prepared], fetched_at: datetime) -> FeedOutcome:
        now = utc(self.tracker.now())
        # a 304 has no body: the <ttl> learnt from the last full fetch still applies
        ttl = parsed.ttl_minutes if parsed else self.state.get("ttl_minutes")
        due = timing.next_due(now, every_seconds=self.sub.every_seconds,
                                ttl_minutes=ttl,
                                cache_max_age=result.cache_max_age_seconds,
                                retry_after=result.retry_after_seconds)
        with write_connection(self.tracker.engine) as conn, conn.begin():
            self.tracker.store.lock(conn)
            plan = self._plan(conn, prepared, fetched_at)
            outcome = FeedOutcome.of(self.sub.name, "ok", plan)
            batches = plan.by_stream()
            if result.permanent_redirect and result.final_url \
                    and result.final_url != self.sub.url:
                batches.setdefault(self.stream, []).append(NewEvent(
                    FEED_CHANGED, {"name": self.sub.name, "url": result.final_url,
                                   "reason": "permanent redirect"},
                    now, meta=actor_meta(self.actor)))
            failures = int(self.state.get("consecutive_failures") or 0)
            if failures:
                batches.setdefault(self.stream, []).append(NewEvent(
                    FEED_RECOVERED, {"name": self.sub.name, "after_failures": failures},
                    now, meta=actor_meta(self.actor)))
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
        due = timing.next_retry(now, failures, base=BACKOFF_BASE_S, ceiling=BACKOFF_CEILING_S,
                                  rng=self.rng, retry_after=retry_after)
        worth_reporting = (failures == 1 or message != self.state.get("last_error")
                           or failures % 10 == 0)
        with write_connection(self.tracker.engine) as conn, conn.begin():
            if worth_reporting:
                self.tracker.store.append_in(conn, self.stream, [NewEvent(
                    FEED_FAILED, {"name": self.sub.name, "error": message,
                                  "consecutive_failures": failures},
                    now, meta=actor_meta(self.actor))])
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
                     lease_expires_at=now + timedelta(seconds=self.lease.seconds)))
            row = conn.execute(sa.select(feed_state).where(
                feed_state.c.name == self.sub.name)).first()
            if taken.rowcount == 1 and row is not None:
                self.state = dict(row._mapping)
                return "taken"
            if self.scheduled and row is not None and row.next_due_at is not None \
                    and utc(row.next_due_at) > now:
                return "not_due"
            if row is not None:
                self.holder = (row.lease_owner, row.lease_expires_at)
            return "busy"


def _stamp(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
