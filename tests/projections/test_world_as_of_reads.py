"""A status as of a world date reads news only as far as the date reaches, on both databases,
and still shows exactly what replaying the whole record and keeping what had happened shows:
dates to the day, month and year read on the calendar of the reader's zone, undated entries,
news facts recorded after the date about days before it, retractions and analysts' decisions
recorded later about earlier news."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.projections.test_policy_state_bounds import news, retraction
from tests.support.paths import SEED_FILE
from tracker import dossier
from tracker.app import Tracker, open_tracker
from tracker.events import NewEvent
from tracker.projections import PROJECTIONS
from tracker.projections.fold import fold_all, wanted_types
from tracker.seeding import load_seed_file
from tracker.when import When, parse_when

POLICY = "hk-zhejiang-supply-chain"
NOW = datetime(2025, 9, 1, tzinfo=UTC)


@pytest.fixture
def tracker(db_url) -> Iterator[Tracker]:
    t = open_tracker(db_url, lambda: NOW)
    yield t
    t.close()


def dated_news(n: int, when: datetime, precision: str) -> tuple[str, NewEvent]:
    stream, event = news(n, "tariff_rate", {"value": n}, claim=f"claim-{n % 7}")
    return stream, NewEvent(event.type, event.data, when, precision, meta=event.meta,
                            schema_version=event.schema_version)


def build(tracker: Tracker) -> None:
    """The seed, then news dated around the end of June 2025 at every precision, a story,
    a retraction of an early fact and one of a late fact, all recorded in September."""
    for stream, event in load_seed_file(SEED_FILE):
        tracker.store.append(stream, [event])
    edge = datetime(2025, 6, 30, tzinfo=UTC)
    moments = [
        (edge - timedelta(days=3), "day"), (edge, "day"), (edge + timedelta(days=1), "day"),
        (edge + timedelta(hours=20), "instant"), (edge - timedelta(hours=9), "instant"),
        (edge + timedelta(hours=1), "instant"), (datetime(2025, 6, 1, tzinfo=UTC), "month"),
        (datetime(2025, 7, 1, tzinfo=UTC), "month"), (datetime(2025, 1, 1, tzinfo=UTC), "year"),
        (datetime(2025, 8, 15, tzinfo=UTC), "day"), (datetime(2025, 8, 20, tzinfo=UTC), "day"),
        (datetime(2025, 8, 30, 12, tzinfo=UTC), "instant"),
    ]
    for n, (when, precision) in enumerate(moments, 1):
        tracker.store.append("news", [dated_news(n, when, precision)[1]])
    tracker.store.append("stories", [NewEvent("story.created", {
        "story_id": "st-late", "policy_id": POLICY, "title": "Late story", "item_key": "k-late",
        "url": "https://s.example/late", "published": "2025-07-02T00:00:00.000000Z"},
        datetime(2025, 7, 2, tzinfo=UTC), "instant")])
    positions = [e.position for e in tracker.store.read(types=["fact.extracted"])]
    for position in (positions[0], positions[-1]):
        tracker.store.append("corrections", [retraction(position)[1]])


def replayed(tracker: Tracker, world: When) -> list[dict[str, object]]:
    """The policy documents as a replay of the whole record, kept to what had happened."""
    policy = PROJECTIONS["policy_state"]
    types = set()
    for name in dossier.STATUS_PROJECTIONS:
        types |= wanted_types(PROJECTIONS[name])
    known = list(tracker.store.read(types=sorted(types)))
    in_world = [e for e in known if e.type in dossier.KNOWN_NOW_TYPES
                or world.reached(e.occurred_until, e.occurred_precision)]
    return [doc for _key, doc in sorted(fold_all(policy, in_world).items())]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Hong_Kong", "Pacific/Honolulu",
                                  "Pacific/Kiritimati"])
@pytest.mark.parametrize("asked", ["2025-06-29", "2025-06-30", "2025-06", "2025-07-01", "2025"])
def test_world_as_of_shows_what_a_whole_replay_shows(tracker, zone, asked) -> None:
    build(tracker)
    world = parse_when(asked, NOW, ZoneInfo(zone))

    docs = dossier.state_docs(tracker, world_as_of=world)

    assert docs.policies == replayed(tracker, world)
    assert docs.policies  # the seed's policy, at least, is in view


def test_news_after_the_date_is_never_read(tracker) -> None:
    build(tracker)
    rows_read: list[int] = []
    real_page = tracker.store.page

    def counting_page(**kwargs: object) -> list[object]:
        page = real_page(**kwargs)  # type: ignore[arg-type]
        if kwargs.get("types") and "fact.extracted" in kwargs["types"]:  # type: ignore[operator]
            rows_read.append(len(page))
        return page

    tracker.store.page = counting_page  # type: ignore[method-assign]
    dossier.state_docs(tracker, world_as_of=parse_when("2025-06-29", NOW))

    # of the twelve news facts, the three from August are left in the database; the nine
    # stored as starting by 1 July (a day's slack past the bound) are read, and the whole
    # period rule then keeps those that had happened
    assert sum(rows_read) == 9
