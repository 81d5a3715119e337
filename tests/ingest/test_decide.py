"""``decide``: what a feed's items become, given what the log knows. Pure, so no database:
``Known`` is built by hand, as the shell would load it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracker.catalogue import (
    FACT_EXTRACTED,
    ITEM_CLASSIFIED,
    ITEM_RECORDED,
    ITEM_REVISED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
    STORY_REVISED,
)
from tracker.ingest import identity, relevance
from tracker.ingest.decide import (
    Plan,
    Prepared,
    decide,
    decide_story,
    item_ids,
    item_record_id,
    prepare,
)
from tracker.ingest.extract import Fact
from tracker.ingest.known import Known
from tracker.ingest.parse import Item

FETCHED = datetime(2025, 5, 21, 12, tzinfo=UTC)
ACTOR = "ingest@test"
RELEVANT = relevance.Decision(True, 12, 6, ("hk", "zhejiang"), "test-1")
IRRELEVANT = relevance.Decision(False, 0, 6, (), "test-1")
POLICY = "hk-zhejiang-supply-chain"


def item(title: str, *, link: str | None = None, summary: str = "", hours: int = 0) -> Item:
    return Item(guid=None, title=title, link=link,
                published=datetime(2025, 5, 21, 8, tzinfo=UTC) + timedelta(hours=hours),
                published_source="feed", date_flags=(), summary=summary, author=None,
                content_hash=identity.content_hash(title, summary))


def prepared(it: Item, decision: relevance.Decision = RELEVANT,
             facts: list[Fact] | None = None) -> Prepared:
    return Prepared(it, identity.item_key(it), {POLICY: decision}, facts or [])


def types(plan: Plan) -> list[str]:
    return [event.type for _stream, event in plan.events]


def test_new_items_are_recorded_classified_and_the_relevant_one_starts_a_story() -> None:
    served = Fact("mechanism_status", {"status": "first_firms_served", "firms": 12},
                  "The mechanism has served its first 12 firms.", 0.85)
    news = prepared(item("HK-Zhejiang mechanism serves first 12 firms",
                         link="https://news.example/a/1"), facts=[served, served])
    weather = prepared(item("Heavy rain in Hangzhou", link="https://news.example/a/2"),
                       IRRELEVANT)

    plan = decide("wire", [news, weather], Known(), fetched_at=FETCHED, actor=ACTOR)

    found = types(plan)
    assert found[:3] == [ITEM_RECORDED, ITEM_CLASSIFIED, STORY_CREATED]
    assert found[-2:] == [ITEM_RECORDED, ITEM_CLASSIFIED]
    facts = [e for _s, e in plan.events if e.type == FACT_EXTRACTED]
    assert found[3:-2] == [FACT_EXTRACTED] * len(facts)
    # the duplicate fact is planned once; each claim it states is a fact event of its own
    assert {e.data["slot"] for e in facts} == {"firms_served", "lifecycle"}
    assert all(e.data["publisher"] == "wire" and e.data["tier"] == "unrated" for e in facts)
    assert (plan.items, plan.stories, plan.corroborations, plan.revisions, plan.facts) == \
        (2, 1, 0, 0, len(facts))
    streams = plan.by_stream()
    story_stream = next(s for s in streams if s.startswith("story:"))
    assert list(streams) == ["feed:wire", story_stream]
    created = streams[story_stream][0]
    assert created.data["title"] == news.item.title
    assert created.meta["source"]["story_id"] == created.data["story_id"]
    assert created.meta["actor"] == ACTOR


def test_deciding_twice_gives_the_same_ids_and_leaves_known_untouched() -> None:
    items = [prepared(item("HK and Zhejiang agree supply-chain mechanism",
                           link="https://news.example/b/1"))]
    known = Known()
    first = decide("wire", items, known, fetched_at=FETCHED, actor=ACTOR)
    second = decide("wire", items, known, fetched_at=FETCHED, actor=ACTOR)
    assert first.event_ids == second.event_ids
    assert known == Known()


def test_an_item_the_log_holds_with_the_same_content_becomes_nothing() -> None:
    news = prepared(item("HK-Zhejiang mechanism launched", link="https://news.example/c/1"))
    record_id = item_record_id("wire", news.key)
    known = Known().with_items({record_id: {"content_hash": news.item.content_hash}})
    assert decide("wire", [news], known, fetched_at=FETCHED, actor=ACTOR) == Plan()
    assert record_id in item_ids("wire", [news])


def test_changed_content_is_a_revision_of_the_item_and_of_its_story() -> None:
    old = item("HK-Zhejiang mechanism launched", link="https://news.example/d/1")
    new = item("HK-Zhejiang mechanism launched; 12 firms served", link=old.link)
    key = identity.item_key(old)
    created = decide("wire", [prepared(old)], Known(), fetched_at=FETCHED, actor=ACTOR)
    known = Known().with_events([e for _s, e in created.events]).with_items(
        {item_record_id("wire", key): {"content_hash": old.content_hash}})

    plan = decide("wire", [prepared(new)], known, fetched_at=FETCHED, actor=ACTOR)

    assert types(plan) == [ITEM_REVISED, STORY_REVISED, ITEM_CLASSIFIED]
    revised = plan.events[0][1]
    assert (revised.data["previous_hash"], revised.data["content_hash"]) == \
        (old.content_hash, new.content_hash)
    assert plan.revisions == 1 and plan.items == 0


def test_a_second_copy_in_the_same_feed_corroborates_the_first() -> None:
    first = prepared(item("Hong Kong, Zhejiang sign supply chain pact",
                          link="https://news.example/e/1"))
    copy = prepared(item("Hong Kong, Zhejiang sign supply chain pact",
                         link="https://news.example/e/2", hours=1))
    plan = decide("wire", [first, copy], Known(), fetched_at=FETCHED, actor=ACTOR)
    assert types(plan).count(STORY_CREATED) == 1
    assert types(plan).count(STORY_CORROBORATED) == 1
    created = next(e for _s, e in plan.events if e.type == STORY_CREATED)
    corroborated = next(e for _s, e in plan.events if e.type == STORY_CORROBORATED)
    assert corroborated.data["story_id"] == created.data["story_id"]
    assert corroborated.data["reason"] == "same headline after normalisation"


def test_a_cross_listed_article_corroborates_with_its_evidence() -> None:
    elsewhere = decide("paper-hk", [prepared(item(
        "HK firms eye Zhejiang deals",
        link="https://paper.example/news/hong-kong/article/3309876/hk-firms"))],
        Known(), fetched_at=FETCHED, actor=ACTOR)
    known = Known().with_events([e for _s, e in elsewhere.events])
    plan = decide("paper-economy", [prepared(item(
        "Zhejiang manufacturers turn to Hong Kong",
        link="https://paper.example/economy/article/3309876/zhejiang", hours=2))],
        known, fetched_at=FETCHED, actor=ACTOR)
    corroborated = next(e for _s, e in plan.events if e.type == STORY_CORROBORATED)
    assert corroborated.data["reason"] == "same article id paper.example/3309876"


def test_a_story_known_from_another_feed_is_matched_by_its_link() -> None:
    elsewhere = decide("portal", [prepared(item("Mechanism agreed",
                                                link="https://news.example/f/1"))],
                       Known(), fetched_at=FETCHED, actor=ACTOR)
    known = Known().with_events([e for _s, e in elsewhere.events])
    plan = decide("wire", [prepared(item("A different headline entirely",
                                         link="https://news.example/f/1?utm_source=rss"))],
                  known, fetched_at=FETCHED, actor=ACTOR)
    assert types(plan) == [ITEM_RECORDED, ITEM_CLASSIFIED, STORY_CORROBORATED]


def test_stories_outside_the_window_are_not_candidates() -> None:
    old = decide("portal", [prepared(item("Mechanism agreed in principle", hours=-24 * 40))],
                 Known(), fetched_at=FETCHED, actor=ACTOR)
    known = Known().with_events([e for _s, e in old.events])
    plan = decide("wire", [prepared(item("Mechanism agreed in principle"))], known,
                  fetched_at=FETCHED, actor=ACTOR)
    assert plan.stories == 1 and plan.corroborations == 0


def test_without_drops_what_the_log_holds_and_the_counts_follow() -> None:
    served = Fact("project_count", {"count": 30}, "30 projects were signed.", 0.9)
    plan = decide("wire", [prepared(item("HK and Zhejiang sign 30 projects"), facts=[served])],
                  Known(), fetched_at=FETCHED, actor=ACTOR)
    fact_id = next(e.event_id for _s, e in plan.events if e.type == FACT_EXTRACTED)
    kept = plan.without([fact_id])
    assert plan.facts == 1 and kept.facts == 0
    assert fact_id not in kept.event_ids and len(kept.events) == len(plan.events) - 1
    assert plan.without([]) is plan


def test_decide_story_attaches_a_newly_relevant_item_once() -> None:
    news = prepared(item("Zhejiang firms turn to Hong Kong mechanism"))
    fresh = decide_story("wire", news, Known(), actor=ACTOR)
    assert types(fresh) == [STORY_CREATED]
    carried = Known().with_events([e for _s, e in fresh.events])
    assert decide_story("wire", news, carried, actor=ACTOR) == Plan()


def test_prepare_classifies_with_the_rules_and_extracts_only_when_relevant() -> None:
    rules = relevance.load_rules()
    hit = prepare(item("Hong Kong-Zhejiang supply chain mechanism serves first 12 firms",
                       summary="The Hong Kong-Zhejiang supply chain services mechanism has "
                               "served the first 12 firms."), {POLICY: rules})
    miss = prepare(item("Local football results"), {POLICY: rules})
    assert hit.decision.relevant and hit.facts
    assert not miss.decision.relevant and miss.facts == []
    assert hit.decision.rules_version == rules.version


def test_a_context_story_states_only_context_claims() -> None:
    context = relevance.Decision(True, 5, 4, ("us", "tariff"), "test-1", tier="context")
    served = Fact("mechanism_status", {"status": "first_firms_served", "firms": 12},
                  "The mechanism has served its first 12 firms.", 0.85)
    tariff = Fact("tariff_rate", {"percent": 30, "imposer": "US",
                                  "target": "China"},
                  "US tariffs on Chinese goods fall to 30% from 145%.", 0.9)
    plan = decide("wire", [prepared(item("US cuts tariffs on Chinese goods to 30%"), context,
                                    [served, tariff])],
                  Known(), fetched_at=FETCHED, actor=ACTOR)
    slots = {e.data.get("slot") for _s, e in plan.events if e.type == FACT_EXTRACTED}
    assert "tariff:us:china" in slots
    assert not slots & {"lifecycle", "firms_served"}


def _decided(feed: str, known: Known, *items: Item) -> tuple[Plan, Known]:
    plan = decide(feed, [prepared(it) for it in items], known, fetched_at=FETCHED, actor=ACTOR)
    return plan, known.with_events([e for _s, e in plan.events])


def test_an_item_tying_two_stories_joins_them_and_later_items_follow() -> None:
    _plan, known = _decided("wire", Known(), item(
        "US, China agree to slash tariffs for 90 days in Geneva",
        link="https://wire.example/1"))
    _plan, known = _decided("paper", known, item(
        "中美日内瓦会谈 美方对华关税降至30%", link="https://paper.example/1", hours=3))
    assert len({c.story_id for c in known.stories.values()}) == 2
    plan, known = _decided("portal", known, item(
        "US to cut China tariffs to 30% for 90 days after Geneva talks",
        link="https://portal.example/1", hours=5))
    merged = [e for _s, e in plan.events if e.type == STORY_MERGED]
    assert len(merged) == 1 and merged[0].meta["automatic"] is True
    assert "joined by" in merged[0].data["note"]
    kept = merged[0].data["story_id"]
    assert kept == next(e.data["story_id"] for _s, e in _decided(
        "wire", Known(), item("US, China agree to slash tariffs for 90 days in Geneva",
                              link="https://wire.example/1"))[0].events
        if e.type == STORY_CREATED)  # the earlier story is kept
    assert {c.story_id for c in known.stories.values()} == {kept}
    plan, _known = _decided("other", known, item(
        "美方对华加征关税降至30%", link="https://other.example/1", hours=6))
    assert [e.data["story_id"] for _s, e in plan.events if e.type == STORY_CORROBORATED] == \
        [kept]
