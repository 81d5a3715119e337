"""The publishers projection: the tier in force for each publisher and who set it.

The pure fold on hand-made events (old subscriptions without publisher or tier, moves,
ratings and their retraction, seed sources), then the stored projection on both databases:
caught up step by step, it equals a rebuild from zero and an in-memory fold.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from tests.support.events import more, recorded, retraction
from tracker import feeds, publishers
from tracker.app import Tracker, open_tracker
from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all
from tracker.projector import Projector, load_docs

PUBLISHERS = PROJECTIONS["publishers"]
WHEN = datetime(2025, 6, 1, tzinfo=UTC)
SEED_SOURCE = {"id": "seed-000", "publication": "The Straits Times", "headline": "…",
               "date": "2025-05", "paragraph": 1, "document": "seed/000.txt",
               "publisher": "The Straits Times", "tier": "press"}


def subscribed(name: str, **rating: str) -> NewEvent:
    return NewEvent("feed.subscribed", {"name": name, "url": f"https://{name}.example/rss",
                                        "every_seconds": 1800, "tags": [], **rating}, WHEN)


def changed(name: str, **data: str) -> NewEvent:
    return NewEvent("feed.changed", {"name": name, **data}, WHEN)


def rated(publisher: str, tier: str, note: str | None = None) -> NewEvent:
    data: dict[str, Any] = {"publisher": publisher, "tier": tier}
    if note:
        data["note"] = note
    return NewEvent("publisher.rated", data, WHEN)


def seeded(key: str) -> NewEvent:
    return NewEvent("policy.tracked", {"policy_id": "p", "title": "P"}, WHEN, "day",
                    meta={"source": SEED_SOURCE, "actor": "seed", "seed_key": key})


def fold(*new: NewEvent) -> dict[str, Doc]:
    return fold_all(PUBLISHERS, recorded(("s", e) for e in new))


def shown(doc: Doc) -> dict[str, Any]:
    return {field: doc[field] for field in ("tier", "tier_set_by", "tier_given", "note", "feeds")}


def test_a_subscription_without_publisher_or_tier_reads_as_its_name_and_unrated() -> None:
    docs = fold(subscribed("old-feed"))

    assert list(docs) == ["old-feed"]
    assert shown(docs["old-feed"]) == {"tier": "unrated", "tier_set_by": "feed",
                                       "tier_given": "unrated", "note": None,
                                       "feeds": ["old-feed"]}
    assert docs["old-feed"]["sources"] == [{"position": 1, "citation": {}}]


def test_feeds_of_one_publisher_share_a_document_and_the_latest_tier_given_wins() -> None:
    docs = fold(subscribed("rthk-en", publisher="RTHK", tier="wire"),
                subscribed("rthk-zh", publisher="RTHK", tier="press"))

    assert list(docs) == ["RTHK"]
    assert shown(docs["RTHK"]) == {"tier": "press", "tier_set_by": "feed", "tier_given": "press",
                                   "note": None, "feeds": ["rthk-en", "rthk-zh"]}


def test_a_moved_feed_leaves_its_old_publisher() -> None:
    docs = fold(subscribed("blog"), changed("blog", tier="aggregator", publisher="blog"),
                changed("blog", publisher="Rumour Blog", tier="aggregator",
                        previous_publisher="blog"))

    assert list(docs) == ["Rumour Blog"]
    assert shown(docs["Rumour Blog"])["feeds"] == ["blog"]
    assert docs["Rumour Blog"]["tier"] == "aggregator"


def test_a_url_change_touches_no_publisher() -> None:
    assert PUBLISHERS.keys(recorded([("s", changed("blog", url="https://x.example/"))])[0]) == []


def test_an_unsubscribed_feed_leaves_the_list_but_not_the_publisher() -> None:
    docs = fold(subscribed("x-en", publisher="Xinhua", tier="wire"),
                NewEvent("feed.unsubscribed", {"name": "x-en", "publisher": "Xinhua"}, WHEN))

    assert shown(docs["Xinhua"]) == {"tier": "wire", "tier_set_by": "feed", "tier_given": "wire",
                                     "note": None, "feeds": []}


def test_an_analyst_rating_stands_over_later_feeds_and_its_retraction_restores_them() -> None:
    events = recorded([("s", subscribed("x-en", publisher="Xinhua", tier="wire")),
                       ("s", rated("Xinhua", "press", "reads as a paper")),
                       ("s", subscribed("x-zh", publisher="Xinhua", tier="wire"))])

    docs = fold_all(PUBLISHERS, events)
    assert shown(docs["Xinhua"]) == {"tier": "press", "tier_set_by": "analyst",
                                     "tier_given": "wire", "note": "reads as a paper",
                                     "feeds": ["x-en", "x-zh"]}
    assert docs["Xinhua"]["sources"] == [{"position": 2, "citation": {}}]

    withdrawn = fold_all(PUBLISHERS, more(events, retraction(2)))
    assert shown(withdrawn["Xinhua"]) == {"tier": "wire", "tier_set_by": "feed",
                                          "tier_given": "wire", "note": None,
                                          "feeds": ["x-en", "x-zh"]}


def test_a_seed_source_names_its_publisher_and_tier() -> None:
    events = recorded([("s", seeded("a")), ("s", seeded("b"))])

    docs = fold_all(PUBLISHERS, events)
    doc = docs["The Straits Times"]
    assert shown(doc) == {"tier": "press", "tier_set_by": "seed", "tier_given": "press",
                          "note": None, "feeds": []}
    assert doc["sources"] == [{"position": 2, "citation": SEED_SOURCE}]

    # retracting one citing event leaves the other; retracting both forgets the publisher
    assert fold_all(PUBLISHERS, more(events, retraction(2)))["The Straits Times"]["sources"] \
        == [{"position": 1, "citation": SEED_SOURCE}]
    assert fold_all(PUBLISHERS, more(events, retraction(1), retraction(2))) == {}


def test_seed_events_without_a_publisher_are_not_folded() -> None:
    plain = NewEvent("policy.tracked", {"policy_id": "p", "title": "P"}, WHEN, "day",
                     meta={"source": {"id": "seed-000"}})

    assert fold(plain) == {}


def test_a_retracted_subscription_stays_as_the_subscription_fold_keeps_it() -> None:
    events = recorded([("s", subscribed("x-en", publisher="Xinhua", tier="wire"))])

    assert fold_all(PUBLISHERS, more(events, retraction(1))) == fold_all(PUBLISHERS, events)


def test_evolve_leaves_its_input_alone() -> None:
    events = recorded([("s", subscribed("x-en", publisher="Xinhua", tier="wire")),
                       ("s", rated("Xinhua", "press")),
                       ("s", changed("x-en", publisher="Xinhua", tier="official")),
                       ("s", seeded("a"))])
    docs: dict[str, Doc | None] = {}
    for event in more(events, retraction(2), retraction(4)):
        target = events[event.data["target_position"] - 1] if "target_position" in event.data \
            else event
        for key in PUBLISHERS.keys(target):
            before = docs.get(key)
            snapshot = copy.deepcopy(before)
            docs[key] = PUBLISHERS.evolve(before, event)
            assert before == snapshot


# -- the stored projection, on both databases -------------------------------------------------


def stored(tracker: Tracker) -> dict[str, Doc]:
    return dict(load_docs(tracker.engine, "publishers"))


def in_memory(tracker: Tracker) -> dict[str, Doc]:
    events: list[RecordedEvent] = list(tracker.store.read())
    return json.loads(json.dumps(fold_all(PUBLISHERS, events)))


def test_the_projection_caught_up_step_by_step_equals_a_rebuild_from_zero(db_url, clock) -> None:
    tracker = open_tracker(db_url, clock)
    projector = Projector(tracker.store, PROJECTIONS, tracker.clock)
    try:
        steps = [
            lambda: tracker.store.append("dossier:p", [seeded("a"), seeded("b")]),
            lambda: feeds.add_feed(tracker, "x-en", "https://x.example/en", tier="wire",
                                   publisher="Xinhua"),
            lambda: feeds.add_feed(tracker, "x-zh", "https://x.example/zh", tier="wire",
                                   publisher="Xinhua News Agency"),
            lambda: feeds.add_feed(tracker, "x-zh", "https://x.example/zh", publisher="Xinhua"),
            lambda: feeds.add_feed(tracker, "blog", "https://blog.example/rss"),
            lambda: publishers.set_tier(tracker, "XINHUA", "press", note="reads as a paper"),
            lambda: publishers.set_tier(tracker, "blog", "aggregator"),
            lambda: feeds.remove_feed(tracker, "x-en"),
        ]
        for step in steps:
            step()
            clock.advance(minutes=1)
            projector.catch_up(["publishers"], batch_size=2)
        rating = max(e.position for e in tracker.store.read(types=["publisher.rated"]))
        from tracker import dossier

        dossier.retract(tracker, rating, "rated by mistake")
        projector.catch_up(["publishers"], batch_size=2)

        incremental = stored(tracker)
        projector.rebuild(["publishers"])
        assert stored(tracker) == incremental == in_memory(tracker)
        assert set(incremental) == {"The Straits Times", "Xinhua", "blog"}
        assert shown(incremental["Xinhua"]) == {
            "tier": "press", "tier_set_by": "analyst", "tier_given": "wire",
            "note": "reads as a paper", "feeds": ["x-zh"]}
        assert shown(incremental["blog"])["tier"] == "unrated"  # its rating was retracted
        assert incremental["The Straits Times"]["tier_set_by"] == "seed"
    finally:
        tracker.close()
