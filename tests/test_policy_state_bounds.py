"""The policy document stays bounded under endless news, and retraction still works within it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all
from tracker.projections.policy_news import (
    NEWS_PER_SLOT,
    NEWS_SLOTS_KEPT,
    NEWS_SOURCES_KEPT,
)
from tracker.seeds import load_seed_file

SEED = Path(__file__).resolve().parent.parent / "seeds" / "hk-zhejiang-supply-chain.json"
POLICY = "hk-zhejiang-supply-chain"
AT = datetime(2025, 6, 1, tzinfo=UTC)


def recorded(pairs: list[tuple[str, NewEvent]]) -> list[RecordedEvent]:
    return [RecordedEvent(position=i, event_id=e.event_id, stream_id=s, stream_version=i,
                          type=e.type, schema_version=e.schema_version,
                          occurred_at=e.occurred_at, occurred_precision=e.occurred_precision,
                          recorded_at=AT + timedelta(minutes=i), data=e.data, meta=e.meta,
                          prev_hash="0" * 64, hash="0" * 64)
            for i, (s, e) in enumerate(pairs, 1)]


def news(n: int, kind: str, value: Any) -> tuple[str, NewEvent]:
    story = {"story_id": f"story-{n}", "title": f"Story {n}", "url": f"https://n.example/{n}"}
    return ("news", NewEvent("fact.extracted", {
        "story_id": story["story_id"], "policy_id": POLICY, "kind": kind, "value": value,
        "sentence": "…", "confidence": 0.9}, datetime(2025, 5, 20, tzinfo=UTC), "day",
        meta={"source": story}))


def retraction(position: int) -> tuple[str, NewEvent]:
    return ("corrections", NewEvent("event.retracted", {"target_position": position,
                                                        "reason": "test"}, AT, "day"))


def policy(events: list[RecordedEvent]) -> Doc:
    return fold_all(PROJECTIONS["policy_state"], events)[POLICY]


def stepwise(events: list[RecordedEvent]) -> Doc:
    """The same fold through ``evolve`` one event at a time (no deferred building)."""
    projection = PROJECTIONS["policy_state"]
    doc: Doc | None = None
    seen: dict[int, RecordedEvent] = {}
    for event in events:
        if event.type == "event.retracted":
            target = seen.get(event.data["target_position"])
            if target is None or not list(projection.keys(target)):
                continue
        elif not list(projection.keys(event)):
            continue
        else:
            seen[event.position] = event
        doc = projection.evolve(doc, event)
    assert doc is not None
    return doc


def test_endless_tariff_news_keeps_the_slot_bounded() -> None:
    pairs = load_seed_file(SEED)
    pairs += [news(n, "tariff_rate", {"value": 100 + n}) for n in range(40)]
    events = recorded(pairs)
    doc = policy(events)
    assert doc["latest_tariff"]["value"] == 139
    slot = doc["history"]["context:us-tariffs-china"]
    assert sum(1 for e in slot if e["type"] == "fact.extracted") == NEWS_PER_SLOT
    assert any(e["type"] == "context.recorded" for e in slot)  # the dossier's own stays
    news_sources = [s for s in doc["latest_tariff"]["sources"] if "story_id" in s["citation"]]
    assert len(news_sources) == NEWS_SOURCES_KEPT
    assert doc == stepwise(events)


def test_retracting_recent_news_brings_back_the_news_it_superseded() -> None:
    pairs = load_seed_file(SEED)
    pairs += [news(n, "tariff_rate", {"value": 100 + n}) for n in range(30)]
    events = recorded(pairs)
    last, before_last = events[-1].position, events[-2].position
    events = recorded(pairs + [retraction(last)])
    doc = policy(events)
    assert doc["latest_tariff"]["value"] == 128
    assert doc["latest_tariff"]["position"] == before_last
    assert last not in {s["position"] for s in doc["latest_tariff"]["sources"]}
    assert doc == stepwise(events)


def test_news_opened_slots_are_capped_and_status_dates_survive() -> None:
    pairs = load_seed_file(SEED)
    rules = NEWS_SLOTS_KEPT + 15
    pairs += [news(n, "export_control", {"title": f"Rule {n}"}) for n in range(rules)]
    pairs += [news(1000, "mechanism_status", "launched")]
    pairs += [news(1001 + n, "mechanism_status", "operational") for n in range(25)]
    events = recorded(pairs)
    doc = policy(events)
    opened = [s for s in doc["history"] if s.startswith("context:news-export-control-")]
    assert len(opened) == NEWS_SLOTS_KEPT
    assert f"Rule {rules - 1}" in {m["title"] for m in doc["context"]["export_controls"]}
    launched = next(e for e in events if e.data.get("value") == "launched")
    assert doc["dates"]["implemented"]["sources"][0]["position"] == launched.position
    assert len(doc["history"]["status"]) <= NEWS_PER_SLOT + 10
    assert doc == stepwise(events)
