"""The candidate index leaves out only stories that could not change what matching decides.

``decide`` weighs an item against ``StoryIndex.likely(item)`` rather than every story of the
window (docs/performance.md, "Ingest"). Here every such call, over the labelled evaluation set
and over feeds built to exercise the index (numbers in every headline, corroborations, stories
growing by write-ups), is checked against matching over all the stories; and an index kept up
to date by assignments and ``sync`` answers as one built afresh.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from tests.support.paths import ROOT
from tracker.ingest import decide, matching, parse, relevance
from tracker.ingest.known import Known, StoryWorkspace
from tracker.ingest.matching import StoryCandidate, find_story, joining_story
from tracker.ingest.story_index import StoryIndex


def _load(name: str) -> ModuleType:
    path = ROOT / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every ``likely`` call checked against matching over all the stories; yields the sizes
    (stories left out) seen."""
    real = StoryIndex.likely
    left_out: list[int] = []

    def likely(self: StoryIndex, item: Any) -> list[StoryCandidate]:
        few = real(self, item)
        every = list(self.values())
        assert [c.story_id for c in few] == [c.story_id for c in every if c in few]
        expected, found = find_story(item, every), find_story(item, few)
        assert (found.story_id, found.reason, found.strong) == \
            (expected.story_id, expected.reason, expected.strong)
        if expected.story_id is not None:
            assert found.similarity == expected.similarity
            assert joining_story(item, every, expected, likely=few) == \
                joining_story(item, every, expected)
        left_out.append(len(every) - len(few))
        return few

    monkeypatch.setattr(StoryIndex, "likely", likely)
    yield left_out


def test_the_evaluation_set_matches_as_without_the_index(checked: list[int]) -> None:
    bench = _load("relevance")
    bench.run(bench.load_set(bench.SET_DIR), relevance.load_rules(None))
    assert len(checked) > 100


def test_numbered_headlines_match_as_without_the_index(checked: list[int]) -> None:
    bench = _load("ingest")
    rules = {"hk-zhejiang-supply-chain": relevance.load_rules(None)}
    known = Known()
    newest = datetime(2025, 5, 20, 12, tzinfo=UTC)
    fetched = newest + timedelta(hours=1)
    for run, when in enumerate((newest - timedelta(hours=30), newest)):
        for feed in range(6):
            parsed = parse.parse_feed(bench.feed_xml(feed, 48, when, run), {},
                                      fetched_at=fetched, base_url=f"https://f{feed}.example/")
            prepared = [decide.prepare(item, rules) for item in parsed.items]
            plan = decide.decide(f"f{feed}", prepared, known, fetched_at=fetched, actor="t")
            known = known.with_events([event for _stream, event in plan.events])
    assert len(checked) > 50
    assert max(checked) > 10  # the index did leave stories out


@dataclass(frozen=True)
class _Item:
    title: str
    link: str | None
    published: datetime
    summary: str = ""
    guid: str | None = None


T0 = datetime(2025, 5, 14, 8, tzinfo=UTC)
TITLES = ("Hong Kong and Zhejiang agree supply chain mechanism",
          "Zhejiang firms sign 50 deals in Hong Kong",
          "港浙簽署供應鏈服務機制合作協議",
          "Unitree files for Hong Kong IPO",
          "Hong Kong-Zhejiang mechanism draws 12 firms",
          "Hong Kong-Zhejiang mechanism draws 40 firms",
          "US raises tariffs on Chinese goods to 145%")


def _story(n: int) -> StoryCandidate:
    return StoryCandidate(story_id=f"st-{n}", title=TITLES[n % len(TITLES)],
                          links=frozenset({f"https://news{n % 3}.example/a/{1000000 + n}"}),
                          published=T0 + timedelta(hours=7 * n),
                          item_keys=frozenset({f"guid:{n}"}))


def _items() -> list[_Item]:
    return [_Item(title, f"https://news{n % 3}.example/a/{1000000 + n}",
                  T0 + timedelta(hours=5 * n), guid=f"{n}")
            for n, title in enumerate(TITLES * 3)]


def test_an_index_kept_up_to_date_answers_as_one_built_afresh() -> None:
    stories = {f"st-{n}": _story(n) for n in range(14)}
    index = StoryIndex(stories)
    index["st-3"] = index["st-3"].joined("Unitree Robotics files for HK listing",
                                         T0 + timedelta(days=2), "https://x.example/u", "k")
    index["st-4"] = index["st-4"].joined("HK mechanism draws 12 firms", T0 - timedelta(days=1))
    index["st-5"] = replace(index["st-5"], story_id="st-1")  # merged into another
    index["st-new"] = _story(20)
    del index["st-6"]
    index.sync({**dict(index), "st-7": _story(27)})

    fresh = StoryIndex(dict(index))
    assert list(index) == list(fresh)
    for item in _items():
        assert [c.story_id for c in index.likely(item)] == \
            [c.story_id for c in fresh.likely(item)]


def test_sync_follows_the_order_and_content_it_is_given() -> None:
    stories = {f"st-{n}": _story(n) for n in range(6)}
    index = StoryIndex(stories)
    reordered = {key: stories[key] for key in reversed(list(stories))}
    del reordered["st-2"]
    reordered["st-9"] = _story(9)
    index.sync(reordered)
    assert list(index) == list(reordered)
    assert all(index[key] is story for key, story in reordered.items())
    assert "st-2" not in index


def test_a_story_grown_by_a_write_up_keeps_what_it_had_prepared() -> None:
    story = _story(1)
    grown = story.joined("Zhejiang companies sign 50 agreements in HK", T0 + timedelta(days=1),
                         "https://other.example/b/2222222", "guid:x")
    again = replace(grown)  # prepared from scratch
    assert grown.prepared_faces == again.prepared_faces
    assert grown.prepared_links == again.prepared_links
    assert grown.started == again.started
    older = grown.joined("Zhejiang firms to sign 50 deals", T0 - timedelta(days=1))
    assert older.prepared_faces == replace(older).prepared_faces
    assert older.started == replace(older).started == T0 - timedelta(days=1)
    assert older.prepared_recap_days == replace(older).prepared_recap_days


def test_matching_without_a_story_index_is_unchanged() -> None:
    # find_story still takes any iterable of stories, as before the index
    item = _items()[0]
    found = matching.find_story(item, [_story(0)])
    assert found.story_id == "st-0"


def test_a_workspace_plans_as_deciding_each_item_against_known_would() -> None:
    """``tracker reclassify`` attaches late items through a StoryWorkspace; it must plan
    what ``decide_story`` planned against a ``Known`` that each earlier plan was folded into."""
    bench = _load("relevance")
    rules = {"dossier": relevance.load_rules(None)}
    items = sorted(((feed.name, labelled.item) for feed in bench.load_set(bench.SET_DIR)
                    for labelled in feed.items), key=lambda pair: pair[1].published)
    known = Known()
    space = StoryWorkspace(Known())
    planned: list[str] = []
    for feed, item in items:
        p = decide.prepare(item, rules)
        if not p.policies:
            continue
        expected = decide.decide_story(feed, p, known, actor="t")
        got = decide.decide_story_in(space, feed, p, actor="t")
        assert [(s, e.type, e.event_id, e.data) for s, e in got.events] == \
            [(s, e.type, e.event_id, e.data) for s, e in expected.events]
        known = known.with_events([e for _s, e in expected.events
                                   if e.event_id not in known.stored_ids])
        planned += [e.type for _s, e in expected.events]
    assert planned.count("story.corroborated") > 20
    assert "story.merged" in planned
