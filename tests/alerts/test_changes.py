"""Changes of accepted state, pure: from events in memory (numbered as the store numbers them)
to the notifications alerts deliver, each attributed to the event that made it."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.alerts.conftest import JUNE_30, served
from tests.support.events import RECORDED_AT, more, retraction, seed_events, story_created
from tracker.alerts.changes import (
    CLAIM_PENDING,
    FACT_ACCEPTED,
    FACT_DISPUTED,
    FACT_SUPERSEDED,
    FACT_WITHDRAWN,
    STATUS_CHANGED,
    STORY_NEW,
    Change,
    changes,
)
from tracker.claims import AcceptancePolicy
from tracker.events import NewEvent, RecordedEvent

POLICY = AcceptancePolicy(version="test-1")
SEP_30 = datetime(2025, 9, 30, tzinfo=UTC)


def found(events: list[RecordedEvent], after: int | None = None) -> list[Change]:
    start = len(seed_events()) if after is None else after
    return changes(events, after=start, default_policy=POLICY)


def kinds(found_changes: list[Change]) -> list[tuple[str, str | None, object, object]]:
    return [(c.kind, c.slot, c.before, c.after) for c in found_changes]


def test_an_official_source_is_one_accepted_fact_naming_everything_a_reader_needs() -> None:
    events = more(seed_events(), served(40, claim_id="c40"))
    [change] = found(events)
    last = events[-1]
    assert (change.kind, change.slot, change.before, change.after) == (
        FACT_ACCEPTED, "firms_served", None, 40)
    assert (change.position, change.event_id) == (last.position, last.event_id)
    assert change.policy_id == "hk-zhejiang-supply-chain"
    assert change.policy_title and "Zhejiang" in change.policy_title
    assert (change.world_date, change.precision) == ("2025-06-30", "day")
    assert change.decided_by == {"by": "rule", "rule": "official-source", "version": "test-1",
                                 "positions": [last.position]}
    assert change.sources == ({"position": last.position, "publisher": "HKSAR Government",
                               "tier": "official", "link": "https://news.example/tariff"},)
    assert change.claim_id == "c40"


def test_each_kind_of_change_is_found_once_at_the_event_that_made_it() -> None:
    base = seed_events()
    events = more(base,
                  served(40, claim_id="c40"),                                    # accepted
                  served(95, "Some blog", "unrated", claim_id="rumour", hedged=True,
                         item="item-2"),                                         # disputed
                  served(55, "SCMP", "press", claim_id="press55", as_of=SEP_30,
                         item="item-3"),                                         # pending
                  served(60, claim_id="c60", as_of=SEP_30, item="item-4"),       # superseded
                  served("suspended", claim_id="suspended", as_of=SEP_30, item="item-5",
                         slot="lifecycle"))                                      # status
    result = found(events)
    assert kinds(result) == [
        (FACT_ACCEPTED, "firms_served", None, 40),
        (FACT_DISPUTED, "firms_served", 40, 95),
        (CLAIM_PENDING, "firms_served", 40, 55),
        (FACT_SUPERSEDED, "firms_served", 40, 60),
        (FACT_DISPUTED, "firms_served", 60, 55),   # the press claim now contradicts 60
        (STATUS_CHANGED, "lifecycle", "announced", "suspended"),
    ]
    assert [c.position for c in result] == [len(base) + n for n in (1, 2, 3, 4, 4, 5)]
    disputed = result[1]
    assert disputed.decided_by is not None and disputed.decided_by["disputes"] == "c40"
    assert disputed.sources[0]["publisher"] == "Some blog"
    status = result[-1]
    assert status.decided_by is not None and status.decided_by["rule"] == "official-source"
    assert status.world_date == "2025-09-30"
    assert len({c.change_id for c in result}) == len(result)


def test_a_retracted_source_withdraws_the_fact_and_what_it_had_superseded_comes_back() -> None:
    events = more(seed_events(), served(40, claim_id="c40"),
                  served(60, claim_id="c60", as_of=SEP_30, item="item-2"))
    events = more(events, retraction(events[-1].position))
    assert kinds(found(events))[-1] == (FACT_SUPERSEDED, "firms_served", 60, 40)
    events = more(events, retraction(events[-3].position))
    assert kinds(found(events))[-1] == (FACT_WITHDRAWN, "firms_served", 40, None)


def test_corroboration_and_re_rating_accept_a_claim_at_the_event_that_decided_it() -> None:
    events = more(seed_events(), served(40, "SCMP", "press", claim_id="c"),
                  served(40, "RTHK", "press", claim_id="c", item="item-2"))
    result = found(events)
    assert kinds(result) == [(CLAIM_PENDING, "firms_served", None, 40),
                             (FACT_ACCEPTED, "firms_served", None, 40)]
    assert [s["publisher"] for s in result[1].sources] == ["SCMP", "RTHK"]
    assert result[1].decided_by is not None and result[1].decided_by["rule"] == "corroborated"

    rated = more(seed_events(), served(12, "Bureau blog", "unrated", claim_id="b"),
                 NewEvent("publisher.rated", {"publisher": "Bureau blog", "tier": "official"},
                          RECORDED_AT))
    result = found(rated)
    assert kinds(result) == [(CLAIM_PENDING, "firms_served", None, 12),
                             (FACT_ACCEPTED, "firms_served", None, 12)]
    assert result[1].position == rated[-1].position


def test_an_analyst_decision_changes_the_state_at_its_own_event() -> None:
    events = more(seed_events(), served(95, "Some blog", "unrated", claim_id="rumour"),
                  NewEvent("claim.accepted", {"policy_id": "hk-zhejiang-supply-chain",
                                              "claim_id": "rumour", "note": "confirmed"},
                           RECORDED_AT, meta={"actor": "analyst"}))
    result = found(events)
    assert kinds(result) == [(CLAIM_PENDING, "firms_served", None, 95),
                             (FACT_ACCEPTED, "firms_served", None, 95)]
    assert result[1].decided_by == {"by": "analyst", "position": events[-1].position,
                                    "note": "confirmed"}


def test_new_stories_carry_their_score_for_the_channels_to_filter() -> None:
    story = story_created(3)
    scored = NewEvent(story.type, {**story.data, "score": 12, "matched": ["Zhejiang"]},
                      story.occurred_at, story.occurred_precision)
    [change] = found(more(seed_events(), scored))
    assert (change.kind, change.after, change.score) == (STORY_NEW, "Story 3", 12.0)
    assert change.story == {"story_id": "s3", "title": "Story 3",
                            "url": "https://news.example/3", "published": "2025-05-04T00:00:00Z"}
    assert change.sources[0]["link"] == "https://news.example/3"


def test_only_changes_after_the_start_are_reported_and_none_depends_on_where_it_started(
        ) -> None:
    events = more(seed_events(), served(40, claim_id="c40"),
                  served(95, "Some blog", "unrated", claim_id="rumour", hedged=True,
                         item="item-2"),
                  served(60, claim_id="c60", as_of=SEP_30, item="item-3"))
    everything = changes(events, after=0, default_policy=POLICY)
    assert everything[0].kind == STATUS_CHANGED and everything[0].before is None  # the seed
    for start in range(len(events) + 1):
        assert found(events, start) == [c for c in everything if c.position > start]
    assert found(events, len(events)) == []


def test_the_same_value_again_or_a_history_claim_is_no_change() -> None:
    events = more(seed_events(), served(40, claim_id="c40"),
                  served(40, claim_id="c40", item="item-2"),
                  served(12, claim_id="may", as_of=datetime(2025, 5, 21, tzinfo=UTC),
                         item="item-3"))
    assert kinds(found(events)) == [(FACT_ACCEPTED, "firms_served", None, 40)]
    assert found(events)[0].world_date == JUNE_30.date().isoformat()


def test_changes_replayed_give_the_state_status_shows_for_any_sequence() -> None:
    """Settling slot by slot agrees with settling the whole policy: the accepted values and
    the status that the changes add up to are those ``status`` computes from the log."""
    import random

    from tracker.claim_state import merge_into_report, settle
    from tracker.projections import PROJECTIONS
    from tracker.projections.fold import fold_all

    publishers = [("HKSAR Government", "official"), ("SCMP", "press"), ("RTHK", "press"),
                  ("Some blog", "unrated")]
    dates = [datetime(2025, m, 28, tzinfo=UTC) for m in (5, 6, 7)]
    for seed in range(12):
        rnd = random.Random(seed)
        events = seed_events()
        start = len(events)
        for n in range(30):
            roll = rnd.random()
            if roll < 0.12 and len(events) > start:
                target = rnd.choice(events[start:])
                if target.type == "fact.extracted":
                    events = more(events, retraction(target.position))
                    continue
            if roll < 0.2:
                claim_id = rnd.choice([e.data["claim_id"] for e in events[start:]
                                       if e.type == "fact.extracted"] or ["none"])
                verdict = rnd.choice(["claim.accepted", "claim.rejected"])
                events = more(events, NewEvent(verdict, {
                    "policy_id": "hk-zhejiang-supply-chain", "claim_id": claim_id,
                    "reason": "r", "note": "n"}, RECORDED_AT))
                continue
            publisher, tier = rnd.choice(publishers)
            slot = rnd.choice(["firms_served", "lifecycle", "projects_signed"])
            value = rnd.choice(["in_force", "suspended"]) if slot == "lifecycle" \
                else rnd.choice([20, 30])
            events = more(events, served(value, publisher, tier, slot=slot,
                                         as_of=rnd.choice(dates), hedged=rnd.random() < 0.2,
                                         item=f"item-{n}"))
        result = found(events, 0)
        current: dict[str, object] = {}
        status = None
        for change in result:
            if change.kind == STATUS_CHANGED:
                status = change.after
            elif change.kind in (FACT_ACCEPTED, FACT_SUPERSEDED):
                current[str(change.slot)] = change.after
            elif change.kind == FACT_WITHDRAWN:
                current.pop(str(change.slot), None)
        [doc] = fold_all(PROJECTIONS["policy_state"], events).values()
        settled = settle(doc, {}, POLICY)
        expected = {slot: claim["value"] for slot in settled.slots if slot != "lifecycle"
                    for claim in [settled.current(slot)] if claim is not None}
        assert current == expected, seed
        report = merge_into_report({"status": doc["status"], "facts": []}, doc, settled)
        assert status == report["status"], seed
