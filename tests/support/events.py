"""Events built in memory and numbered as the store would number them, for the pure folds and
the reports built on them: the packaged seed dossier, and news, retractions and stories added
on top."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.paths import SEED_FILE
from tracker.events import NewEvent, RecordedEvent
from tracker.seeding import load_seed_file

POLICY = "hk-zhejiang-supply-chain"
STREAM = f"dossier:{POLICY}"
RECORDED_AT = datetime(2025, 6, 1, tzinfo=UTC)
STORY = {"story_id": "story-1", "title": "US trims tariff on Chinese goods",
         "url": "https://news.example/tariff"}


def recorded(pairs: Iterable[tuple[str, NewEvent]], start: int = 1) -> list[RecordedEvent]:
    """Number events 1..n as the store would (hashes are not under test here)."""
    return [RecordedEvent(position=i, event_id=e.event_id, stream_id=stream, stream_version=i,
                          type=e.type, schema_version=e.schema_version,
                          occurred_at=e.occurred_at, occurred_precision=e.occurred_precision,
                          recorded_at=RECORDED_AT + timedelta(minutes=i), data=e.data,
                          meta=e.meta, prev_hash="0" * 64, hash="0" * 64)
            for i, (stream, e) in enumerate(pairs, start)]


def seed_events() -> list[RecordedEvent]:
    return recorded(load_seed_file(SEED_FILE))


def by_key(events: list[RecordedEvent], key: str) -> RecordedEvent:
    return next(e for e in events if e.meta.get("seed_key") == key)


def more(events: list[RecordedEvent], *new: NewEvent, stream: str = STREAM) -> list[RecordedEvent]:
    return events + recorded(((stream, e) for e in new), start=len(events) + 1)


def retraction(position: int, **meta: Any) -> NewEvent:
    return NewEvent("event.retracted", {"target_position": position, "reason": "test"},
                    RECORDED_AT, "day", meta=meta)


def news(kind: str, value: Any, story: dict[str, str] = STORY) -> NewEvent:
    return NewEvent("fact.extracted", {"story_id": story["story_id"], "policy_id": POLICY,
                                       "kind": kind, "value": value, "sentence": "…",
                                       "confidence": 0.9},
                    datetime(2025, 5, 20, tzinfo=UTC), "day", meta={"source": dict(story)})


def claim(kind: str, value: Any, *, slot: str, claim_value: Any, claim_id: str | None = None,
          publisher: str = "HKSAR Government", tier: str = "official", hedged: bool = False,
          as_of: datetime = datetime(2025, 5, 20, tzinfo=UTC), precision: str = "day",
          story: dict[str, str] = STORY, item: str = "item-1") -> NewEvent:
    """A fact one source states, claiming ``claim_value`` for ``slot`` as of ``as_of``."""
    return NewEvent("fact.extracted", {
        "story_id": story["story_id"], "policy_id": POLICY, "kind": kind, "value": value,
        "sentence": f"{publisher} says {slot} is {claim_value}.", "confidence": 0.9,
        "claim_id": claim_id or f"{slot}={claim_value}@{as_of.date()}", "slot": slot,
        "claim_value": claim_value, "as_of_stated": True, "hedged": hedged,
        "hedge": "reportedly" if hedged else None, "publisher": publisher, "tier": tier,
        "feed": publisher.lower().replace(" ", "-"), "item_key": item,
        "link": story.get("url")}, as_of, precision, meta={"source": dict(story)},
        schema_version=2)


def story_created(n: int) -> NewEvent:
    return NewEvent("story.created", {"story_id": f"s{n}", "title": f"Story {n}",
                                      "url": f"https://news.example/{n}",
                                      "published": f"2025-05-{n + 1:02d}T00:00:00Z",
                                      "item_key": f"guid:{n}", "feed": "f", "policy_id": POLICY},
                    datetime(2025, 5, n + 1, tzinfo=UTC), "instant")
