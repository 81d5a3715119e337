"""The shipped sample feeds and subscription list: the offline demo works end to end."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from tests.support.paths import SAMPLE_FEEDS, SEEDS
from tracker.ingest.extract import extract_facts
from tracker.ingest.fetch import fetch
from tracker.ingest.identity import item_key
from tracker.ingest.matching import StoryCandidate, match_story
from tracker.ingest.parse import Item, parse_feed
from tracker.ingest.relevance import classify, load_rules

SAMPLES = sorted(SAMPLE_FEEDS.glob("*.xml"))
FETCHED = datetime(2025, 7, 25, tzinfo=UTC)


def load_samples() -> dict[str, list[Item]]:
    out = {}
    for path in SAMPLES:
        result = fetch(str(path), allow_local=True)
        feed = parse_feed(result.body, result.headers, fetched_at=FETCHED,
                          base_url=result.final_url)
        assert feed.warnings == [], path.name
        out[path.stem] = feed.items
    return out


def test_three_sample_feeds_in_three_formats() -> None:
    assert [p.name for p in SAMPLES] == ["delta-trade-wire.xml", "gangzhe-caijing.xml",
                                         "harbour-business-daily.xml"]
    feeds = load_samples()
    assert all(len(items) == 6 for items in feeds.values())
    assert all(i.published_source == "feed" for items in feeds.values() for i in items)
    keys = [item_key(i) for items in feeds.values() for i in items]
    assert len(keys) == len(set(keys))


def test_samples_mix_relevant_and_irrelevant_items() -> None:
    rules = load_rules()
    for name, items in load_samples().items():
        decisions = [classify(i.title, i.summary, rules).relevant for i in items]
        assert 0 < sum(decisions) < len(decisions), name


def test_syndicated_story_is_matched_across_two_feeds() -> None:
    feeds = load_samples()
    rules = load_rules()
    stories: list[StoryCandidate] = []
    joined = []
    for name in ("harbour-business-daily", "delta-trade-wire"):
        for item in feeds[name]:
            if not classify(item.title, item.summary, rules).relevant:
                continue
            story_id, _ = match_story(item, stories)
            if story_id is None:
                stories.append(StoryCandidate(f"st-{len(stories)}", item.title,
                                              frozenset({item.link or ""}), item.published))
            else:
                joined.append((story_id, item.title))
    assert joined == [("st-0", "HK and Zhejiang agree new supply-chain mechanism – "
                               "Delta Trade Wire")]


def test_samples_carry_the_demo_facts() -> None:
    rules = load_rules()
    kinds: dict[str, list[dict[str, object]]] = {}
    for items in load_samples().values():
        for item in items:
            if classify(item.title, item.summary, rules).relevant:
                for fact in extract_facts(item.title, item.summary):
                    kinds.setdefault(fact.kind, []).append(fact.value)
    assert {"percent": 145, "imposer": "US", "target": "China"} in kinds["tariff_rate"]
    assert {"company": "Unitree", "venue": "Hong Kong", "stage": "filed"} in kinds["listing"]
    assert {"status": "operational", "planned": False} in kinds["mechanism_status"]
    assert {"count": 50, "qualifier": "more_than"} in kinds["project_count"]


def test_default_subscriptions_are_well_formed() -> None:
    feeds = json.loads((SEEDS / "feeds.json").read_text(encoding="utf-8"))
    assert len(feeds) >= 10
    names = [f["name"] for f in feeds]
    assert len(names) == len(set(names))
    for feed in feeds:
        assert set(feed) == {"name", "url", "every", "tags", "publisher", "tier"}
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", feed["name"])
        assert re.fullmatch(r"https?://[^\s]+", feed["url"])
        assert re.fullmatch(r"\d+[mh]", feed["every"])
        assert feed["tags"] and all(isinstance(t, str) for t in feed["tags"])
    urls = {f["url"] for f in feeds}
    assert "https://www.info.gov.hk/gia/rss/general_en.xml" in urls
    assert "https://www.scmp.com/rss/2/feed" in urls
