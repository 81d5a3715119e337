"""A synthetic event log shaped like tracker's own, built fast, for the benchmarks.

The shipped seed dossier first, then months of feed news: most items irrelevant
(``item.recorded`` + ``item.classified``), a few per cent relevant ones that open or corroborate
a story and yield extracted facts about the tracked policy, and now and then a feed failing and
recovering. ``recorded_at`` comes from a fake clock that walks through the recorded range, so
``--as-of`` a date in the middle sees about half of the log.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.app import Tracker
from tracker.db import write_connection
from tracker.dossier import load_seeds
from tracker.events import NewEvent, deterministic_id

POLICY = "hk-zhejiang-supply-chain"
RULES_VERSION = "2025-05-01.1"
#: The recorded range the fake clock walks through, and the world range news is published in.
RECORDED_START = datetime(2025, 5, 1, tzinfo=UTC)
RECORDED_SPAN = timedelta(days=180)
FEEDS = 40
BATCH = 1000
#: Share of items that are relevant, and of relevant items that corroborate an existing story.
RELEVANT = 0.04
CORROBORATE = 0.4

_WORDS = ("tariff", "export", "controls", "agreement", "forum", "minister", "projects", "trade",
          "sectors", "investment", "delegation", "signed", "review", "announced", "phase",
          "council", "budget", "harbour", "shipping", "festival", "weather", "election")
_COMPANIES = ("Deep Robotics", "Unitree", "Hikvision Cloud", "Geely Tech", "Ningbo Ports",
              "Zhejiang Semicon", "Hangzhou Bio", "Westlake Labs")
_STATUSES = ("launched", "operational", "planned", "under_discussion", "expanded", "stalled")
_SECTORS = ("logistics", "finance", "robotics", "biotech", "semiconductors", "trade services")


class FakeClock:
    """A clock the generator moves forward; ``open_tracker(url, clock)`` reads it."""

    def __init__(self, start: datetime = RECORDED_START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _State:
    rng: random.Random
    item: int = 0
    stories: list[tuple[str, str]] = field(default_factory=list)  # (story_id, title)
    failing: set[str] = field(default_factory=set)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _fact_value(rng: random.Random, kind: str, n: int) -> dict[str, Any]:
    if kind == "tariff_rate":
        percent = rng.choice((10, 20, 25, 34, 54, 104, 125, 145))
        return {"percent": percent, "imposer": "us", "target": "china",
                "previous_percent": rng.choice((10, 20, 34))}
    if kind == "project_count":
        return {"count": 50 + n % 40, "qualifier": "more_than",
                "sectors": rng.sample(_SECTORS, 2)}
    if kind == "listing":
        return {"company": rng.choice(_COMPANIES), "venue": "HKEX",
                "stage": rng.choice(("considering", "filed", "listed"))}
    if kind == "export_control":
        return {"imposer": "us", "items": ["H20 chips"], "target": "china",
                "summary": "licence required for exports"}
    return {"status": rng.choice(_STATUSES), "planned": rng.random() < 0.3}


_KINDS = ("tariff_rate", "project_count", "listing", "export_control", "mechanism_status")


def _item(state: _State, published: datetime, fetched: datetime) -> list[tuple[str, NewEvent]]:
    """One feed item's events: recorded, classified, and, when relevant, story and facts."""
    rng = state.rng
    n = state.item
    state.item += 1
    feed = f"feed-{n % FEEDS:02d}"
    key = f"guid:{feed}/{n:09d}"
    relevant = rng.random() < RELEVANT
    title = ("Hong Kong and Zhejiang supply chain mechanism " + _words(rng, 3) if relevant
             else _words(rng, 6).capitalize())
    stream = f"feed:{feed}"
    meta = {"source": {"id": feed, "url": f"https://news.example.org/{feed}/rss",
                       "retrieved_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    link = f"https://news.example.org/{feed}/{n:09d}"
    out = [
        (stream, NewEvent("item.recorded", {
            "feed": feed, "item_key": key, "title": title, "link": link,
            "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"), "published_source": "feed",
            "summary": (_words(rng, 14) + ".").capitalize(),
            "content_hash": uuid.uuid5(uuid.NAMESPACE_URL, key).hex,
            "fetched_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ")},
            published, "instant", meta, deterministic_id("item", feed, key))),
        (stream, NewEvent("item.classified", {
            "item_key": key, "relevant": relevant, "score": 7 if relevant else rng.randint(0, 4),
            "threshold": 5, "matched": ["Hong Kong", "Zhejiang"] if relevant else [],
            "rules_version": RULES_VERSION}, published, "instant", {"actor": "ingest"},
            deterministic_id("classified", feed, key))),
    ]
    if not relevant:
        return out
    if state.stories and rng.random() < CORROBORATE:
        story_id, _ = rng.choice(state.stories[-20:])
        out.append((f"story:{story_id}", NewEvent("story.corroborated", {
            "story_id": story_id, "item_key": key, "feed": feed, "link": link, "title": title,
            "similarity": round(0.6 + rng.random() * 0.4, 2)}, published, "instant",
            {"actor": "ingest"}, deterministic_id("corroborated", story_id, key))))
        return out
    story_id = f"st-{n:09d}"
    state.stories.append((story_id, title))
    story = f"story:{story_id}"
    out.append((story, NewEvent("story.created", {
        "story_id": story_id, "title": title, "url": link,
        "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"), "item_key": key, "feed": feed,
        "policy_id": POLICY, "score": 7, "matched": ["Hong Kong", "Zhejiang"]},
        published, "instant", {"actor": "ingest"}, deterministic_id("story", story_id))))
    for k in range(rng.choice((1, 1, 2, 2, 3))):
        kind = rng.choice(_KINDS)
        out.append((story, NewEvent("fact.extracted", {
            "story_id": story_id, "policy_id": POLICY, "kind": kind,
            "value": _fact_value(rng, kind, n), "sentence": title + ".",
            "confidence": round(0.6 + rng.random() * 0.35, 2)}, published, "instant",
            {"actor": "ingest"}, deterministic_id("fact", story_id, str(k)))))
    return out


def _feed_health(state: _State, when: datetime) -> list[tuple[str, NewEvent]]:
    """Now and then a feed fails; one that failed recovers on its next turn."""
    rng = state.rng
    out: list[tuple[str, NewEvent]] = []
    for feed in sorted(state.failing):
        out.append((f"feed:{feed}", NewEvent("feed.recovered", {
            "name": feed, "after_failures": 1}, when, "instant", {"actor": "ingest"})))
    state.failing.clear()
    feed = f"feed-{rng.randrange(FEEDS):02d}"
    state.failing.add(feed)
    out.append((f"feed:{feed}", NewEvent("feed.failed", {
        "name": feed, "error": "HTTP 503 Service Unavailable", "consecutive_failures": 1},
        when, "instant", {"actor": "ingest"})))
    return out


def news_batches(total: int, seed: int = 5) -> Iterator[list[tuple[str, NewEvent]]]:
    """About ``total`` news events in batches of about ``BATCH``, in recorded order.

    Item ``n`` is published at a time proportional to ``n`` across the recorded range, so
    the world range and the recorded range run side by side.
    """
    state = _State(random.Random(seed))
    items = max(1, int(total / 2.12))  # ~2.12 events per item at these rates
    step = RECORDED_SPAN / items
    produced = 0
    batch: list[tuple[str, NewEvent]] = []
    while produced < total:
        published = RECORDED_START + step * state.item - timedelta(hours=2)
        fetched = published + timedelta(minutes=30)
        new = _item(state, published, fetched)
        if state.item % 997 == 0:
            new += _feed_health(state, fetched)
        new = new[:total - produced]
        batch.extend(new)
        produced += len(new)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def batch_time(batch: list[tuple[str, NewEvent]]) -> datetime:
    """When a batch is recorded: just after the newest event in it was published."""
    return max(e.occurred_at for _s, e in batch) + timedelta(minutes=30)


def append_batch(tracker: Tracker, batch: list[tuple[str, NewEvent]]) -> None:
    """One transaction: the batch's events, one ``append_in`` per stream."""
    by_stream: dict[str, list[NewEvent]] = defaultdict(list)
    for stream_id, event in batch:
        by_stream[stream_id].append(event)
    with write_connection(tracker.engine) as conn, conn.begin():
        for stream_id, events in by_stream.items():
            tracker.store.append_in(conn, stream_id, events)


def build_log(tracker: Tracker, clock: FakeClock, events: int) -> int:
    """Seeds, then news until the log holds about ``events`` events; returns the head."""
    clock.now = RECORDED_START - timedelta(days=1)
    load_seeds(tracker)
    seeded = tracker.store.head()
    for batch in news_batches(max(0, events - seeded)):
        clock.now = max(clock.now, batch_time(batch))
        append_batch(tracker, batch)
    return tracker.store.head()


def middle_recorded() -> datetime:
    return RECORDED_START + RECORDED_SPAN / 2


def middle_world() -> datetime:
    return RECORDED_START + RECORDED_SPAN / 2
