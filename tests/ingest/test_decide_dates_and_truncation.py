"""``decide`` on items whose feed gave no usable date, and on truncated bodies: an unknown date
is recorded as unknown (the item placed when first seen, and saying so), and a cut-off body
is completed by a later, fuller copy but never replaces one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tracker.catalogue import ITEM_CLASSIFIED, ITEM_RECORDED, ITEM_REVISED, STORY_CREATED
from tracker.dates import iso
from tracker.events import NewEvent
from tracker.ingest import identity, relevance
from tracker.ingest.decide import (
    FIRST_SEEN_NOTE,
    Plan,
    Prepared,
    decide,
    item_record_id,
)
from tracker.ingest.known import Known
from tracker.ingest.parse import Item

FETCHED = datetime(2025, 5, 21, 12, tzinfo=UTC)
PUBLISHED = datetime(2025, 5, 21, 8, tzinfo=UTC)
ACTOR = "ingest@test"
POLICY = "hk-zhejiang-supply-chain"
RELEVANT = relevance.Decision(True, 12, 6, ("hk", "zhejiang"), "test-1")
TITLE = "HK-Zhejiang mechanism serves first firms"
FULL = "The mechanism has served its first 12 firms, officials said on Tuesday."
CUT = "The mechanism has served its first 12 …"


def item(summary: str = FULL, *, truncated: bool = False, dated: bool = True) -> Item:
    return Item(guid="tag:news.example,2025:1", title=TITLE, link="https://news.example/1",
                published=PUBLISHED if dated else FETCHED,
                published_source="feed" if dated else "first_seen",
                date_flags=() if dated else ("unreadable",), summary=summary, author=None,
                content_hash=identity.content_hash(TITLE, summary), truncated=truncated)


def prepared(it: Item) -> Prepared:
    return Prepared(it, identity.item_key(it), {POLICY: RELEVANT}, [])


def events(plan: Plan, event_type: str) -> list[NewEvent]:
    return [e for _stream, e in plan.events if e.type == event_type]


def recorded_as(it: Item) -> Known:
    """What the log knows once ``it`` was recorded (its first ingest, decided for real)."""
    plan = decide("wire", [prepared(it)], Known(), fetched_at=FETCHED, actor=ACTOR)
    [record] = events(plan, ITEM_RECORDED)
    return Known().with_events([e for _s, e in plan.events]).with_items(
        {item_record_id("wire", identity.item_key(it)): record.data})


# -- dates ------------------------------------------------------------------------------------


def test_an_unknown_date_is_recorded_as_unknown_and_placed_when_first_seen() -> None:
    plan = decide("wire", [prepared(item(dated=False))], Known(), fetched_at=FETCHED,
                  actor=ACTOR)
    [record] = events(plan, ITEM_RECORDED)
    assert record.data["published"] is None  # never the fetch time posing as a date
    assert record.data["published_source"] == "first_seen"
    assert record.data["date_flags"] == ["unreadable"]
    assert record.data["fetched_at"] == iso(FETCHED)
    assert record.occurred_at == FETCHED  # ordered by when it was first seen
    [story] = events(plan, STORY_CREATED)
    assert (story.data["published"], story.data["published_source"]) == \
        (iso(FETCHED), "first_seen")
    for event in (record, story, *events(plan, ITEM_CLASSIFIED)):
        assert event.meta["occurred_note"] == FIRST_SEEN_NOTE  # the timeline says so
        assert event.meta["source"]["date_note"] == FIRST_SEEN_NOTE  # and every citation


def test_a_feed_date_is_recorded_as_published_without_a_note() -> None:
    plan = decide("wire", [prepared(item())], Known(), fetched_at=FETCHED, actor=ACTOR)
    [record] = events(plan, ITEM_RECORDED)
    [story] = events(plan, STORY_CREATED)
    assert (record.data["published"], record.data["published_source"]) == \
        (iso(PUBLISHED), "feed")
    assert story.data["published_source"] == "feed"
    assert "occurred_note" not in record.meta and "date_note" not in record.meta["source"]


# -- truncated bodies -------------------------------------------------------------------------


def test_a_truncated_item_is_recorded_with_its_text_and_flagged() -> None:
    plan = decide("wire", [prepared(item(CUT, truncated=True))], Known(), fetched_at=FETCHED,
                  actor=ACTOR)
    [record] = events(plan, ITEM_RECORDED)
    assert (record.data["summary"], record.data["truncated"]) == (CUT, True)


def test_a_fuller_copy_replaces_a_truncated_record() -> None:
    known = recorded_as(item(CUT, truncated=True))
    plan = decide("wire", [prepared(item())], known, fetched_at=FETCHED, actor=ACTOR)
    [revised] = events(plan, ITEM_REVISED)
    assert (revised.data["summary"], revised.data["truncated"]) == (FULL, False)
    assert revised.data["previous_hash"] == item(CUT).content_hash


def test_a_cut_off_copy_never_replaces_a_fuller_record() -> None:
    known = recorded_as(item())
    for cut in (CUT, "The mechanism has served", ""):
        again = decide("wire", [prepared(item(cut, truncated=True))], known,
                       fetched_at=FETCHED, actor=ACTOR)
        assert again == Plan(), cut


def test_a_longer_cut_of_a_truncated_record_still_revises_it() -> None:
    known = recorded_as(item("The mechanism has …", truncated=True))
    plan = decide("wire", [prepared(item(CUT, truncated=True))], known, fetched_at=FETCHED,
                  actor=ACTOR)
    [revised] = events(plan, ITEM_REVISED)
    assert (revised.data["summary"], revised.data["truncated"]) == (CUT, True)


def test_a_truncated_copy_with_other_words_is_a_revision() -> None:
    known = recorded_as(item())
    edited = item("Officials now say the mechanism served 15 firms …", truncated=True)
    assert len(events(decide("wire", [prepared(edited)], known, fetched_at=FETCHED,
                             actor=ACTOR), ITEM_REVISED)) == 1
    retitled = replace(item(CUT, truncated=True), title="Mechanism serves 15 firms")
    retitled = replace(retitled, content_hash=identity.content_hash(retitled.title, CUT))
    assert len(events(decide("wire", [prepared(retitled)], known, fetched_at=FETCHED,
                             actor=ACTOR), ITEM_REVISED)) == 1
