"""The policy document stays bounded under endless news, and retraction still works within it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.paths import SEED_FILE as SEED
from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all
from tracker.projections.policy_news import CLAIMS_PER_SLOT, NEWS_FACTS_KEPT, SOURCES_PER_CLAIM
from tracker.seeding import load_seed_file

POLICY = "hk-zhejiang-supply-chain"
AT = datetime(2025, 6, 1, tzinfo=UTC)


def recorded(pairs: list[tuple[str, NewEvent]]) -> list[RecordedEvent]:
    return [RecordedEvent(position=i, event_id=e.event_id, stream_id=s, stream_version=i,
                          type=e.type, schema_version=e.schema_version,
                          occurred_at=e.occurred_at, occurred_precision=e.occurred_precision,
                          recorded_at=AT + timedelta(minutes=i), data=e.data, meta=e.meta,
                          prev_hash="0" * 64, hash="0" * 64)
            for i, (s, e) in enumerate(pairs, 1)]


def news(n: int, kind: str, value: Any, *, slot: str = "tariff:us:china",
         claim: str | None = None, publisher: str | None = None) -> tuple[str, NewEvent]:
    """One source's fact, stating a claim on ``slot`` (claim id ``claim``, default one per n)."""
    story = {"story_id": f"story-{n}", "title": f"Story {n}", "url": f"https://n.example/{n}"}
    return ("news", NewEvent("fact.extracted", {
        "story_id": story["story_id"], "policy_id": POLICY, "kind": kind, "value": value,
        "sentence": f"Sentence {n}.", "confidence": 0.9, "claim_id": claim or f"claim-{n}",
        "slot": slot, "claim_value": value, "publisher": publisher or f"Outlet {n}",
        "tier": "press", "hedged": False, "feed": f"feed-{n}", "item_key": f"item-{n}"},
        datetime(2025, 5, 20, tzinfo=UTC), "day", meta={"source": story}, schema_version=2))


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


def claims_of(doc: Doc) -> dict[str, list[int]]:
    return {c["claim_id"]: [s["position"] for s in c["sources"]] for c in doc["claims"]}


def test_endless_claims_on_one_slot_keep_the_document_bounded() -> None:
    seed = recorded(load_seed_file(SEED))
    n = len(seed)
    many = recorded([*load_seed_file(SEED),
                     *(news(i, "tariff_rate", {"value": 100 + i}) for i in range(200))])
    doc = policy(many)
    assert len(doc["claims"]) == CLAIMS_PER_SLOT
    kept = sorted(claims_of(doc))
    assert kept == sorted(f"claim-{i}" for i in range(200 - CLAIMS_PER_SLOT, 200))
    assert len(doc["news_facts"]) == NEWS_FACTS_KEPT
    assert doc == stepwise(many)
    assert all(p > n for positions in claims_of(doc).values() for p in positions)


def test_sources_per_claim_are_bounded_and_a_decided_claim_survives_the_slot_bound() -> None:
    copies = [news(i, "tariff_rate", {"value": 30}, claim="thirty") for i in range(30)]
    decided = ("claims", NewEvent("claim.accepted", {"policy_id": POLICY, "claim_id": "thirty"},
                                  AT, "day"))
    others = [news(100 + i, "tariff_rate", {"value": i}) for i in range(CLAIMS_PER_SLOT + 5)]
    doc = policy(recorded([*copies, decided, *others]))
    found = claims_of(doc)
    assert len(found["thirty"]) == SOURCES_PER_CLAIM
    assert found["thirty"] == list(range(1, SOURCES_PER_CLAIM + 1))  # the first sources
    assert doc["claim_decisions"]["thirty"]["verdict"] == "accepted"
    assert len(found) == CLAIMS_PER_SLOT + 1


def test_retracting_a_source_drops_it_and_a_claim_with_none_left_is_gone() -> None:
    events = [news(1, "tariff_rate", {"value": 30}, claim="thirty"),
              news(2, "tariff_rate", {"value": 30}, claim="thirty"),
              news(3, "tariff_rate", {"value": 95}, claim="rumour")]
    log = recorded([*events, retraction(1), retraction(3)])
    doc = policy(log)
    assert claims_of(doc) == {"thirty": [2]}
    assert doc == stepwise(log)


def test_facts_of_other_slots_and_v1_facts_set_no_claim() -> None:
    v1 = ("news", NewEvent("fact.extracted", {
        "story_id": "s", "policy_id": POLICY, "kind": "listing", "value": {"company": "X"},
        "sentence": "…", "confidence": 0.9, "claim_id": None}, AT, "day"))
    doc = policy(recorded([v1, news(2, "project_count", {"count": 30},
                                    slot="projects_signed")]))
    assert [c["slot"] for c in doc["claims"]] == ["projects_signed"]
    assert len(doc["news_facts"]) == 2


def test_news_slots_pruned_in_runs_give_the_document_pruning_per_fact_gives() -> None:
    """A deferred fold prunes the news slots once per ``NEWS_PRUNED_EVERY`` facts (and before
    a retraction and building the document): the document must be the one pruning after every
    fact gives, whatever mix of news, stories and retractions comes, including retracting a
    fact the per-fact pruning had already dropped and one it still kept."""
    import random

    from tracker.projections.policy_state import NEWS_PRUNED_EVERY

    rng = random.Random(7)
    seed = load_seed_file(SEED)
    for trial in range(12):
        pairs: list[tuple[str, NewEvent]] = list(seed)
        for i in range(rng.randint(60, 260)):
            roll = rng.random()
            if roll < 0.08 and len(pairs) > len(seed):
                back = rng.choice([1, 2, NEWS_FACTS_KEPT + 3, NEWS_PRUNED_EVERY + 20, 140])
                pairs.append(retraction(max(1, len(pairs) - back)))
            elif roll < 0.2:
                pairs.append(("stories", NewEvent("story.created", {
                    "story_id": f"st-{trial}-{i}", "policy_id": POLICY, "title": f"S {i}",
                    "url": f"https://s.example/{i}", "published": "2025-05-20T00:00:00.000000Z"},
                    AT, "instant")))
            else:
                pairs.append(news(i, "tariff_rate", {"value": rng.randint(1, 30)},
                                  claim=f"claim-{rng.randint(1, 40)}"))
        events = recorded(pairs)
        assert policy(events) == stepwise(events), f"trial {trial}"
