"""One ingest pass: fetch the feeds that are due, record what is new, move the feed's state.

Each feed is its own unit of work: its new events and its HTTP cache state commit in one
transaction, under a per-feed lease so that concurrent runs (or workers on other machines)
never fetch the same feed at once. One feed's failure never stops the others.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tracker.app import Tracker
from tracker.db import write_connection
from tracker.errors import UsageError
from tracker.events import NewEvent, RecordedEvent, canonical_json, deterministic_id, iso, utc
from tracker.ingest import extract, fetch, identity, parse, relevance, schedule, stories
from tracker.ingest.subscriptions import FEED_TYPES, Subscription, current
from tracker.store.eventstore import _COLUMNS, _row_to_event
from tracker.store.schema import events, feed_state

#: Exit code of ``tracker ingest`` when at least one feed failed (the others were ingested).
EXIT_SOME_FAILED = 6
LEASE_SECONDS = 600
BACKOFF_BASE_S = 60.0
BACKOFF_CEILING_S = 6 * 3600.0
STORY_WINDOW_DAYS = 14
DEFAULT_POLICY = "hk-zhejiang-supply-chain"
STORY_TYPES = ("story.created", "story.corroborated", "story.revised")

Fetcher = Callable[..., fetch.FetchResult]


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

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.name}: FAILED {self.message}"
        if self.status == "busy":
            return f"{self.name}: skipped, {self.message}"
        if self.status == "not_modified":
            return f"{self.name}: not modified"
        parts = [f"{self.items} new item(s)", f"{self.stories} new stor(y/ies)",
                 f"{self.corroborations} corroboration(s)", f"{self.revisions} revision(s)",
                 f"{self.facts} fact(s)"]
        prefix = "would record " if self.status == "dry_run" else ""
        warn = f" (warning: {self.message})" if self.message else ""
        return f"{self.name}: {prefix}{', '.join(parts)}{warn}"


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


def ingest(tracker: Tracker, *, feed: str | None = None, dry_run: bool = False,
           rules: relevance.Rules | None = None, fetcher: Fetcher = fetch.fetch,
           rng: random.Random | None = None, worker: str | None = None,
           timeout: Any = None) -> IngestSummary:
    """One pass over the feeds that are due (or the one named, due or not)."""
    subs = subscriptions(tracker)
    if feed is not None and feed not in subs:
        raise UsageError(f"no feed named {feed!r} (see `tracker feeds list`)")
    rules = rules or relevance.load_rules()
    rng = rng or random.Random()
    worker = worker or worker_name()
    summary = IngestSummary()
    states = _states(tracker)
    now = utc(tracker.now())
    for sub in sorted(subs.values(), key=lambda s: s.name):
        if feed is not None and sub.name != feed:
            continue
        state = states.get(sub.name, {})
        due_at = state.get("next_due_at")
        if feed is None and due_at is not None and utc(due_at) > now:
            summary.not_due += 1
            continue
        job = _FeedJob(tracker, sub, state, rules, fetcher, rng, worker, dry_run, timeout,
                       scheduled=feed is None)
        outcome = job.run()
        if outcome is None:  # another worker polled it since the states were read
            summary.not_due += 1
            continue
        summary.outcomes.append(outcome)
    return summary


def _states(tracker: Tracker) -> dict[str, dict[str, Any]]:
    with tracker.engine.connect() as conn:
        return {row.name: dict(row._mapping) for row in conn.execute(sa.select(feed_state))}


@dataclass
class _Prepared:
    item: parse.Item
    key: str
    decision: relevance.Decision
    facts: list[extract.Fact]


class _FeedJob:
    def __init__(self, tracker: Tracker, sub: Subscription, state: Mapping[str, Any],
                 rules: relevance.Rules, fetcher: Fetcher, rng: random.Random, worker: str,
                 dry_run: bool, timeout: Any, scheduled: bool = False) -> None:
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
        prepared = [self._prepare(item) for item in items]
        if self.dry_run:
            outcome = self._plan(prepared, dry=True)
        else:
            outcome = self._record_success(result, parsed, prepared, fetched_at)
        if warnings:
            outcome.message = "; ".join(dict.fromkeys(warnings))[:300]
        return outcome

    def _prepare(self, item: parse.Item) -> _Prepared:
        decision = relevance.classify(item.title, item.summary, self.rules)
        facts = extract.extract_facts(item.title, item.summary) if decision.relevant else []
        return _Prepared(item, identity.item_key(item), decision, facts)

    # -- writing ---------------------------------------------------------------------------

    def _record_success(self, result: fetch.FetchResult, parsed: parse.ParsedFeed | None,
                        prepared: list[_Prepared], fetched_at: datetime) -> FeedOutcome:
        now = utc(self.tracker.now())
        due = schedule.next_due(now, every_seconds=self.sub.every_seconds,
                                ttl_minutes=parsed.ttl_minutes if parsed else None,
                                cache_max_age=result.cache_max_age_seconds,
                                retry_after=result.retry_after_seconds)
        with write_connection(self.tracker.engine) as conn, conn.begin():
            self.tracker.store.lock(conn)
            outcome, batches = self._plan_in(conn, prepared, fetched_at)
            if result.permanent_redirect and result.final_url \
                    and result.final_url != self.sub.url:
                batches.setdefault(self.stream, []).append(NewEvent(
                    "feed.changed", {"name": self.sub.name, "url": result.final_url,
                                     "reason": "permanent redirect"}, now, meta=self._meta()))
            failures = int(self.state.get("consecutive_failures") or 0)
            if failures:
                batches.setdefault(self.stream, []).append(NewEvent(
                    "feed.recovered", {"name": self.sub.name, "after_failures": failures},
                    now, meta=self._meta()))
            for stream_id, new_events in batches.items():
                self.tracker.store.append_in(conn, stream_id, new_events)
            values: dict[str, Any] = {
                "next_due_at": due, "consecutive_failures": 0, "last_attempt_at": now,
                "last_success_at": now, "lease_owner": None, "lease_expires_at": None,
                "items_recorded": feed_state.c.items_recorded + outcome.items}
            if not result.not_modified:
                values["etag"] = result.etag
                values["last_modified"] = result.last_modified
            conn.execute(feed_state.update().where(feed_state.c.name == self.sub.name)
                         .values(**values))
        return outcome

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
                                    "consecutive_failures": failures}, now, meta=self._meta())])
            conn.execute(feed_state.update().where(feed_state.c.name == self.sub.name).values(
                consecutive_failures=failures, last_attempt_at=now, last_error=message,
                last_error_at=now, next_due_at=due, lease_owner=None, lease_expires_at=None))

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

    # -- planning: which events the items become -----------------------------------------

    def _plan(self, prepared: list[_Prepared], dry: bool) -> FeedOutcome:
        with self.tracker.engine.connect() as conn:
            outcome, _ = self._plan_in(conn, prepared, utc(self.tracker.now()))
        outcome.status = "dry_run" if dry else outcome.status
        return outcome

    def _plan_in(self, conn: sa.Connection, prepared: list[_Prepared],
                 fetched_at: datetime) -> tuple[FeedOutcome, dict[str, list[NewEvent]]]:
        outcome = FeedOutcome(self.sub.name, "ok")
        batches: dict[str, list[NewEvent]] = {}
        if not prepared:
            return outcome, batches
        record_ids = {p.key: deterministic_id("item", self.sub.name, p.key) for p in prepared}
        revision_ids = {p.key: deterministic_id("item-revision", self.sub.name, p.key,
                                                p.item.content_hash) for p in prepared}
        known = _events_by_id(conn, [*record_ids.values(), *revision_ids.values()])
        earliest = min(p.item.published for p in prepared)
        candidates = _story_candidates(conn, earliest - timedelta(days=STORY_WINDOW_DAYS))
        item_story = {key: c.story_id for c in candidates.values() for key in c.item_keys}
        feed_events = batches.setdefault(self.stream, [])
        for p in prepared:
            recorded = known.get(record_ids[p.key])
            if recorded is None:
                feed_events.append(self._item_recorded(p, record_ids[p.key], fetched_at))
            elif recorded.data.get("content_hash") == p.item.content_hash \
                    or revision_ids[p.key] in known:
                continue
            else:
                story_id = item_story.get(p.key)
                feed_events.append(NewEvent(
                    "item.revised",
                    {"feed": self.sub.name, "item_key": p.key, "title": p.item.title,
                     "summary": p.item.summary, "content_hash": p.item.content_hash,
                     "previous_hash": recorded.data.get("content_hash"),
                     "story_id": story_id},
                    p.item.published, meta=self._meta(p), event_id=revision_ids[p.key]))
                outcome.revisions += 1
                if story_id is not None:
                    batches.setdefault(f"story:{story_id}", []).append(NewEvent(
                        "story.revised", {"story_id": story_id, "item_key": p.key,
                                          "title": p.item.title, "summary": p.item.summary},
                        p.item.published, meta=self._meta(p, story_id),
                        event_id=deterministic_id("story-revision", story_id, p.key,
                                                  p.item.content_hash)))
            feed_events.append(self._classified(p))
            if recorded is None:
                outcome.items += 1
            if p.decision.relevant and recorded is None:
                self._story_events(p, candidates, batches, outcome, known)
        return outcome, _drop_stored(conn, batches, outcome)

    def _story_events(self, p: _Prepared, candidates: dict[str, stories.StoryCandidate],
                      batches: dict[str, list[NewEvent]], outcome: FeedOutcome,
                      known: Mapping[str, RecordedEvent]) -> None:
        story_id, similarity = stories.match_story(p.item, candidates.values(),
                                                   window_days=STORY_WINDOW_DAYS)
        if story_id is None:
            story_id = "st-" + hashlib.sha256(
                f"{self.sub.name}\x1f{p.key}".encode()).hexdigest()[:12]
            batches.setdefault(f"story:{story_id}", []).append(NewEvent(
                "story.created",
                {"story_id": story_id, "title": p.item.title, "url": p.item.link,
                 "published": iso(p.item.published), "item_key": p.key, "feed": self.sub.name,
                 "policy_id": DEFAULT_POLICY, "summary": p.item.summary,
                 "score": p.decision.score, "matched": list(p.decision.matched)},
                p.item.published, meta=self._meta(p, story_id),
                event_id=deterministic_id("story", story_id)))
            candidates[story_id] = stories.StoryCandidate(
                story_id=story_id, title=p.item.title,
                links=frozenset({p.item.link} if p.item.link else ()),
                published=p.item.published, item_keys=frozenset({p.key}))
            outcome.stories += 1
        else:
            batches.setdefault(f"story:{story_id}", []).append(NewEvent(
                "story.corroborated",
                {"story_id": story_id, "item_key": p.key, "feed": self.sub.name,
                 "link": p.item.link, "title": p.item.title, "similarity": round(similarity, 3)},
                p.item.published, meta=self._meta(p, story_id),
                event_id=deterministic_id("story-source", story_id, self.sub.name, p.key)))
            candidate = candidates[story_id]
            candidates[story_id] = stories.StoryCandidate(
                story_id=story_id, title=candidate.title,
                links=candidate.links | ({p.item.link} if p.item.link else set()),
                published=candidate.published, item_keys=candidate.item_keys | {p.key})
            outcome.corroborations += 1
        for fact in p.facts:
            fact_id = deterministic_id("fact", story_id, fact.kind, canonical_json(fact.value))
            if fact_id in known or any(e.event_id == fact_id
                                       for e in batches.get(f"story:{story_id}", [])):
                continue
            batches.setdefault(f"story:{story_id}", []).append(NewEvent(
                "fact.extracted",
                {"story_id": story_id, "policy_id": DEFAULT_POLICY, "kind": fact.kind,
                 "value": fact.value, "sentence": fact.sentence,
                 "confidence": round(fact.confidence, 3)},
                p.item.published, meta=self._meta(p, story_id), event_id=fact_id))
            outcome.facts += 1

    def _item_recorded(self, p: _Prepared, event_id: str, fetched_at: datetime) -> NewEvent:
        item = p.item
        return NewEvent(
            "item.recorded",
            {"feed": self.sub.name, "item_key": p.key, "title": item.title, "link": item.link,
             "published": iso(item.published), "published_source": item.published_source,
             "date_flags": list(item.date_flags), "summary": item.summary,
             "author": item.author, "content_hash": item.content_hash,
             "fetched_at": iso(fetched_at)},
            item.published, meta=self._meta(p), event_id=event_id)

    def _classified(self, p: _Prepared) -> NewEvent:
        d = p.decision
        return NewEvent(
            "item.classified",
            {"item_key": p.key, "feed": self.sub.name, "relevant": d.relevant,
             "score": d.score, "threshold": d.threshold, "matched": list(d.matched),
             "rules_version": d.rules_version, "content_hash": p.item.content_hash},
            p.item.published, meta=self._meta(p),
            event_id=deterministic_id("classified", self.sub.name, p.key, d.rules_version,
                                      p.item.content_hash))

    def _meta(self, p: _Prepared | None = None, story_id: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"actor": f"ingest@{self.worker}"}
        if p is not None:
            meta["source"] = {
                "id": story_id or p.key, "story_id": story_id, "publication": self.sub.name,
                "feed": self.sub.name, "headline": p.item.title, "title": p.item.title,
                "url": p.item.link, "date": iso(p.item.published), "item_key": p.key}
        return meta


def _drop_stored(conn: sa.Connection, batches: dict[str, list[NewEvent]],
                 outcome: FeedOutcome) -> dict[str, list[NewEvent]]:
    """Leave out events whose deterministic id is already in the log (a fact or a source that
    another feed's copy of the story recorded first): the log's unique key decides."""
    ids = [e.event_id for batch in batches.values() for e in batch]
    stored = set(_events_by_id(conn, ids))
    if not stored:
        return batches
    for batch in batches.values():
        outcome.facts -= sum(1 for e in batch
                             if e.event_id in stored and e.type == "fact.extracted")
    return {stream: kept for stream, batch in batches.items()
            if (kept := [e for e in batch if e.event_id not in stored])}


def _events_by_id(conn: sa.Connection, ids: Iterable[str]) -> dict[str, RecordedEvent]:
    found: dict[str, RecordedEvent] = {}
    id_list = list(ids)
    for start in range(0, len(id_list), 500):
        chunk = id_list[start:start + 500]
        for row in conn.execute(sa.select(*_COLUMNS).where(events.c.event_id.in_(chunk))):
            event = _row_to_event(row)
            found[event.event_id] = event
    return found


def _story_candidates(conn: sa.Connection, since: datetime) -> dict[str, stories.StoryCandidate]:
    """Recent stories, read from the log itself inside the writer's lock (race-free dedupe)."""
    rows = conn.execute(sa.select(*_COLUMNS).where(
        events.c.type.in_(STORY_TYPES), events.c.occurred_at >= since)
        .order_by(events.c.position))
    found: dict[str, stories.StoryCandidate] = {}
    for row in rows:
        event = _row_to_event(row)
        data = event.data
        sid = str(data["story_id"])
        link = data.get("url") if event.type == "story.created" else data.get("link")
        current_c = found.get(sid)
        if current_c is None:
            current_c = stories.StoryCandidate(story_id=sid, title=str(data.get("title", "")),
                                               links=frozenset(), published=event.occurred_at,
                                               item_keys=frozenset())
        links = current_c.links | ({str(link)} if link else set())
        keys = current_c.item_keys | ({str(data["item_key"])} if data.get("item_key") else set())
        title = str(data.get("title") or current_c.title) if event.type != "story.corroborated" \
            else current_c.title
        found[sid] = stories.StoryCandidate(story_id=sid, title=title, links=frozenset(links),
                                            published=current_c.published,
                                            item_keys=frozenset(keys))
    return found


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
