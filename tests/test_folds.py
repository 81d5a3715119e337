"""Projections as pure folds over in-memory events: purity, as-of, retraction, news follow-ups."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all as replay
from tracker.seeds import load_seed_file

SEED = Path(__file__).resolve().parent.parent / "seeds" / "hk-zhejiang-supply-chain.json"
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
    return recorded(load_seed_file(SEED))


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


def story_created(n: int) -> NewEvent:
    return NewEvent("story.created", {"story_id": f"s{n}", "title": f"Story {n}",
                                      "url": f"https://news.example/{n}",
                                      "published": f"2025-05-{n + 1:02d}T00:00:00Z",
                                      "item_key": f"guid:{n}", "feed": "f", "policy_id": POLICY},
                    datetime(2025, 5, n + 1, tzinfo=UTC), "instant")


def policy(events: Iterable[RecordedEvent]) -> Doc:
    return replay(PROJECTIONS["policy_state"], events)[POLICY]


def positions_in(value: Any) -> Iterator[int]:
    """Every provenance position anywhere in a document, history included."""
    if isinstance(value, dict):
        if "position" in value and "citation" in value:
            yield value["position"]
        for v in value.values():
            yield from positions_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from positions_in(v)


def test_registry_holds_every_projection() -> None:
    assert set(PROJECTIONS) == {"policy_state", "timeline", "actors", "sources", "stories",
                                "feeds"}
    for name, projection in PROJECTIONS.items():
        assert projection.name == name
        assert isinstance(projection.version, int)
        assert isinstance(projection.types, frozenset)


@pytest.mark.parametrize("name", sorted(PROJECTIONS))
def test_evolve_never_mutates_its_input(name: str) -> None:
    projection = PROJECTIONS[name]
    events = seed_events()
    events = more(events, story_created(1), news("tariff_rate", {"value": 30}),
                  retraction(by_key(events, "agreement-projects").position),
                  retraction(by_key(events, "actor-nvidia").position))
    docs: dict[str, Doc] = {}
    folded: dict[int, RecordedEvent] = {}
    for event in events:
        if event.type == "event.retracted":
            keys = list(projection.keys(folded[event.data["target_position"]]))
        else:
            folded[event.position] = event
            keys = list(projection.keys(event))
        for key in keys:
            before = docs.get(key)
            snapshot = copy.deepcopy(before)
            after = projection.evolve(before, event)
            assert before == snapshot
            if after is None:
                docs.pop(key, None)
            else:
                assert after is not before or event.type not in projection.types
                docs[key] = after
                projection.sort_key(key, after)
    assert docs or name == "timeline"


def test_full_seed_state() -> None:
    doc = policy(seed_events())
    assert doc["title"] == "Hong Kong–Zhejiang supply-chain services mechanism"
    assert doc["status"] == "announced"
    assert doc["dates"]["announced"]["value"] == "2025-04"
    assert [p["actor_id"] for p in doc["parties"]] == ["hksar-government", "zhejiang-government"]
    assert "US trade restrictions" in doc["facts"]["purpose"]["value"]
    assert doc["sectors"] == ["supply-chain services", "technological innovation", "trade",
                              "housing"]
    deal = next(a for a in doc["agreements"] if a["agreement_id"] == "visit-project-agreements")
    assert (deal["project_count"], deal["count_qualifier"]) == (50, "more_than")
    assert doc["latest_tariff"]["value"] == 145
    assert {m["measure_id"] for m in doc["context"]["export_controls"]} == {
        "us-nvidia-export-ban-2022", "us-nvidia-tightening-recent"}
    assert [q["resolved"] for q in doc["questions"]] == [False]
    assert {c["stance"] for c in doc["commentary"]} == {"supportive", "positive"}
    assert len(doc["outcomes"]) == 6 and len(doc["milestones"]) == 4
    assert "john-lee" in doc["stakeholders"]
    for fact in doc["facts"].values():
        assert fact["sources"] and fact["sources"][0]["citation"]["id"] == "seed-000"
    assert doc["position"] == len(seed_events())


def test_world_as_of_2024_shows_only_context_threads() -> None:
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    early = [e for e in seed_events() if e.occurred_until <= cutoff]
    doc = policy(early)
    assert doc["title"] is None and doc["status"] is None
    assert doc["agreements"] == [] and doc["parties"] == [] and doc["facts"] == {}
    assert set(doc["context"]) == {"export_controls", "trade_status", "capital_flows"}
    assert [m["measure_id"] for m in doc["context"]["export_controls"]] == [
        "us-nvidia-export-ban-2022"]
    assert doc["latest_tariff"] is None
    assert replay(PROJECTIONS["actors"], early) == {}


def test_retracting_the_agreement_removes_it_and_its_sources() -> None:
    events = seed_events()
    target = by_key(events, "agreement-projects").position
    doc = policy(more(events, retraction(target)))
    assert "visit-project-agreements" not in {a["agreement_id"] for a in doc["agreements"]}
    assert target not in set(positions_in(doc))
    assert target in set(positions_in(policy(events)))
    timeline = replay(PROJECTIONS["timeline"], more(events, retraction(target)))
    assert f"{target:012d}" not in timeline
    sources = replay(PROJECTIONS["sources"], more(events, retraction(target)))["seed-000"]
    assert target not in [c["position"] for c in sources["citations"]]


def test_retracting_a_superseding_fact_brings_the_old_value_back() -> None:
    events = seed_events()
    original = policy(events)["facts"]["purpose"]
    newer = NewEvent("policy.fact_asserted", {"policy_id": POLICY, "key": "purpose",
                                              "value": "A narrower purpose"},
                     datetime(2025, 5, 1, tzinfo=UTC), "day",
                     meta={"source": {"id": "seed-000", "paragraph": 4}})
    events = more(events, newer)
    superseded = policy(events)["facts"]["purpose"]
    assert superseded["value"] == "A narrower purpose"
    assert superseded["superseded"] == [original["position"]]
    restored = policy(more(events, retraction(events[-1].position)))["facts"]["purpose"]
    assert restored["value"] == original["value"]
    assert restored["sources"] == original["sources"]


def test_correction_is_retraction_plus_replacement() -> None:
    events = seed_events()
    target = by_key(events, "context-us-tariffs")
    fixed = NewEvent("context.recorded", {**target.data, "value": 125}, target.occurred_at,
                     "month", meta={**target.meta, "corrects": target.position},
                     schema_version=2)
    events = more(events, retraction(target.position), fixed)
    doc = policy(events)
    assert doc["latest_tariff"]["value"] == 125
    assert [s["position"] for s in doc["latest_tariff"]["sources"]] == [events[-1].position]
    entry = replay(PROJECTIONS["timeline"], events)[f"{events[-1].position:012d}"]
    assert entry["corrects"] == target.position


def test_news_tariff_updates_the_latest_tariff_with_the_story_as_source() -> None:
    events = more(seed_events(), news("tariff_rate", {"value": 30, "unit": "percent"}))
    doc = policy(events)
    tariff = doc["latest_tariff"]
    assert tariff["measure_id"] == "us-tariffs-china"
    assert tariff["value"] == 30
    assert tariff["sources"][0] == {"position": events[-1].position, "citation": STORY}
    assert [s["value"] for s in tariff["superseded"]] == [145]
    assert doc["news_facts"][0]["kind"] == "tariff_rate"
    back = policy(more(events, retraction(events[-1].position)))
    assert back["latest_tariff"]["value"] == 145
    assert back["news_facts"] == []


def test_news_facts_of_each_kind() -> None:
    events = more(seed_events(), news("project_count", {"count": 60, "qualifier": "about"}),
                  news("listing", {"company": "Unitree", "venue": "HKEX"}),
                  news("export_control", {"title": "New US licence rule", "since": "2025-05"}),
                  news("mechanism_status", "launched"),
                  news("mechanism_status", "under review by lawyers"))
    doc = policy(events)
    deal = next(a for a in doc["agreements"] if a["agreement_id"] == "visit-project-agreements")
    assert (deal["project_count"], deal["count_qualifier"]) == (60, "about")
    assert deal["sectors"] == ["technological innovation", "trade", "housing"]
    assert doc["listings"][0]["company"] == "Unitree"
    assert doc["listings"][0]["sources"][0]["citation"] == STORY
    assert "New US licence rule" in {m["title"] for m in doc["context"]["export_controls"]}
    assert doc["status"] == "in_force"
    assert doc["dates"]["implemented"]["sources"][0]["citation"] == STORY
    assert doc["facts"]["mechanism_status"]["value"] == "under review by lawyers"
    assert doc["facts"]["mechanism_status"]["sources"][0]["citation"] == STORY


def test_only_the_latest_ten_stories_are_listed() -> None:
    events = more(seed_events(), *(story_created(n) for n in range(1, 13)))
    stories = policy(events)["stories"]
    assert [s["story_id"] for s in stories] == [f"s{n}" for n in range(12, 2, -1)]
    assert stories[0]["url"] == "https://news.example/12"
    sources = replay(PROJECTIONS["sources"], events)
    assert sources["s12"]["headline"] == "Story 12"
    assert sources["s12"]["links"] == ["https://news.example/12"]


def test_timeline_orders_by_occurrence_and_keys_by_position() -> None:
    projection = PROJECTIONS["timeline"]
    docs = replay(projection, seed_events())
    ordered = sorted(docs.items(), key=lambda kv: projection.sort_key(*kv))
    assert ordered[0][1]["occurred_at"] == "1997"
    assert ordered[2][1]["summary"].startswith("Context [export_controls]: US export bans")
    assert all(key == f"{doc['position']:012d}" for key, doc in docs.items())
    visit = next(d for d in docs.values() if d["type"] == "milestone.recorded")
    assert visit["precision"] == "month" and visit["occurred_until"].startswith("2025-05-01")


def test_actor_roles_and_identity() -> None:
    events = seed_events()
    actors = replay(PROJECTIONS["actors"], events)
    lee = actors["john-lee"]
    assert (lee["name"], lee["kind"]) == ("John Lee", "person")
    assert any(r["role"].startswith("led visit") for r in lee["roles"])
    assert lee["policies"] == [POLICY]
    assert any(r["role"].startswith("commentator") for r in actors["sonny-lo"]["roles"])
    assert any(r["role"].startswith("carried commentary") for r in
               actors["straits-times"]["roles"])
    assert actors["hksar-government"]["roles"][0]["link"] == "party"
    nvidia = by_key(events, "actor-nvidia").position
    assert "nvidia" not in replay(PROJECTIONS["actors"], more(events, retraction(nvidia)))


def test_actor_reached_before_it_is_identified() -> None:
    events = [e for e in seed_events() if e.type != "actor.identified"]
    actors = replay(PROJECTIONS["actors"], events)
    assert actors["john-lee"]["actor_id"] is None
    assert actors["john-lee"]["roles"]


def test_sources_projection_lists_citing_positions() -> None:
    events = seed_events()
    source = replay(PROJECTIONS["sources"], events)["seed-000"]
    assert source["publication"].startswith("Seed article")
    assert source["date"] == "2025-05"
    assert [c["position"] for c in source["citations"]] == [e.position for e in events]
    assert source["by_type"]["actor.identified"] == 21
