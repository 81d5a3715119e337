"""Projections as pure folds over in-memory events: purity, as-of, retraction, news follow-ups."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.events import (
    POLICY,
    by_key,
    claim,
    more,
    news,
    retraction,
    seed_events,
    story_created,
)
from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all as replay


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
                                "feeds", "publishers"}
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
    assert len(doc["outcomes"]) == 6 and len(doc["milestones"]) == 5
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
    # actors are dated to the earliest entry naming them: the 2022 export bans name these two
    assert set(replay(PROJECTIONS["actors"], early)) == {"us-government", "nvidia"}


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


def test_news_never_sets_the_state_itself_it_adds_claims() -> None:
    events = more(seed_events(), news("tariff_rate", {"value": 30, "unit": "percent"}),
                  claim("tariff_rate", {"value": 30}, slot="tariff:us:china", claim_value=30))
    doc = policy(events)
    tariff = doc["latest_tariff"]
    assert (tariff["measure_id"], tariff["value"]) == ("us-tariffs-china", 145)
    assert [c["slot"] for c in doc["claims"]] == ["tariff:us:china"]
    [found] = doc["claims"]
    assert found["value"] == 30 and found["as_of"] == "2025-05-20"
    assert [s["position"] for s in found["sources"]] == [events[-1].position]
    assert found["sources"][0]["publisher"] == "HKSAR Government"
    assert [n["kind"] for n in doc["news_facts"]] == ["tariff_rate", "tariff_rate"]
    back = policy(more(events, retraction(events[-1].position)))
    assert back["claims"] == []


def test_claims_of_each_slot_and_analyst_decisions_are_kept() -> None:
    events = more(seed_events(),
                  claim("project_count", {"count": 60}, slot="projects_signed", claim_value=60),
                  claim("listing", {"company": "Unitree"}, slot="listing:unitree",
                        claim_value="filed", publisher="Blog", tier="unrated", hedged=True),
                  claim("mechanism_status", "launched", slot="lifecycle", claim_value="in_force",
                        claim_id="launch"))
    decided = events[-1].position
    events = more(events, NewEvent("claim.rejected", {"policy_id": POLICY, "claim_id": "launch",
                                                     "reason": "premature"},
                                   datetime(2025, 6, 1, tzinfo=UTC), "day"))
    doc = policy(events)
    assert {c["slot"] for c in doc["claims"]} == {"projects_signed", "listing:unitree",
                                                  "lifecycle"}
    deal = next(a for a in doc["agreements"] if a["agreement_id"] == "visit-project-agreements")
    assert deal["project_count"] == 50  # the seed's value: news does not overwrite it
    assert doc["status"] == "announced"
    assert doc["claim_decisions"]["launch"]["verdict"] == "rejected"
    assert doc["claim_decisions"]["launch"]["reason"] == "premature"
    assert doc["claim_decisions"]["launch"]["position"] == decided + 1
    hedged = next(c for c in doc["claims"] if c["slot"] == "listing:unitree")
    assert hedged["sources"][0]["hedged"] is True


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
    # undated background first, then the 2022 export bans
    assert [d["occurred_at"] for _k, d in ordered[:2]] == ["undated", "undated"]
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
    assert source["by_type"]["actor.identified"] == 23
