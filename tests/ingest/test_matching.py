"""Story dedupe across feeds: shared links, similar titles, and look-alikes that differ."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tracker.ingest.matching import (
    SIMILARITY_THRESHOLD,
    StoryCandidate,
    match_story,
    normalise_title,
    similarity,
)

T0 = datetime(2025, 4, 29, 4, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeItem:
    title: str
    link: str | None
    published: datetime = T0


def story(story_id: str, title: str, *links: str, published: datetime = T0) -> StoryCandidate:
    return StoryCandidate(story_id=story_id, title=title, links=frozenset(links),
                          published=published)


def test_normalise_title() -> None:
    assert normalise_title("HK and Zhejiang agree new supply-chain mechanism – SCMP") == \
        "hong kong zhejiang agree supply chain mechanism"
    assert normalise_title("Unitree files for Hong Kong IPO | RTHK") == \
        "unitree files hong kong listing"
    assert normalise_title("港浙簽署協議 – 新聞") == "港浙簽署協議"


@pytest.mark.parametrize(("a", "b"), [
    ("Hong Kong, Zhejiang agree supply chain mechanism",
     "HK and Zhejiang agree new supply-chain mechanism – SCMP"),
    ("Unitree files for Hong Kong IPO", "Unitree Robotics files for HK listing"),
    ("港浙簽署供應鏈服務機制合作協議", "香港與浙江簽署供應鏈服務機制協議"),
    ("李家超率團訪問浙江", "李家超率領代表團訪問浙江四天"),
])
def test_syndicated_rewrites_are_similar(a: str, b: str) -> None:
    assert similarity(a, b) >= SIMILARITY_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [
    ("Hong Kong, Zhejiang agree supply chain mechanism",
     "Hong Kong-Zhejiang supply chain mechanism becomes operational"),
    ("Unitree files for Hong Kong IPO", "Deep Robotics files for Hong Kong IPO"),
    ("US raises tariffs on Chinese goods to 145%", "China raises tariffs on US goods to 125%"),
    ("John Lee arrives in Hangzhou for four-day Zhejiang visit",
     "John Lee meets Hangzhou 'six little dragons'"),
    ("李家超率團訪問浙江", "李家超出席寧波論壇"),
    ("宇樹科技赴港上市", "雲深處科技赴港上市"),
    ("港浙供應鏈服務機制正式運作", "港浙簽署供應鏈服務機制合作協議"),
])
def test_different_stories_with_shared_words_are_not(a: str, b: str) -> None:
    assert similarity(a, b) < SIMILARITY_THRESHOLD


def test_similarity_bounds() -> None:
    assert similarity("Same title here", "Same title here") == 1.0
    assert similarity("", "anything") == 0.0
    assert 0.0 <= similarity("Tariffs", "港浙") <= 1.0


def test_syndicated_copy_with_other_link_joins_the_story() -> None:
    candidates = [
        story("st-1", "Hong Kong, Zhejiang agree supply chain mechanism",
              "https://harbourbusiness.example/hk/mechanism"),
        story("st-2", "Hong Kong home prices fall for third month",
              "https://harbourbusiness.example/property/prices"),
    ]
    copy = FakeItem("HK and Zhejiang agree new supply-chain mechanism – SCMP",
                    "https://deltatrade.example/asia/mechanism?ref=feed",
                    T0 + timedelta(hours=3))
    story_id, score = match_story(copy, candidates)
    assert story_id == "st-1" and score >= SIMILARITY_THRESHOLD


def test_same_canonical_link_wins_whatever_the_title_or_date() -> None:
    candidates = [story("st-9", "Completely different wording",
                        "https://news.example/a?utm_source=rss",
                        published=T0 - timedelta(days=90))]
    item = FakeItem("Updated: something else", "https://NEWS.example/a#comments")
    assert match_story(item, candidates) == ("st-9", 1.0)


def test_time_window_limits_title_matches() -> None:
    old = story("st-old", "Hong Kong, Zhejiang agree supply chain mechanism",
                published=T0 - timedelta(days=30))
    item = FakeItem("HK and Zhejiang agree supply-chain mechanism", None)
    story_id, score = match_story(item, [old], window_days=14)
    assert story_id is None and score == 0.0
    assert match_story(item, [old], window_days=45)[0] == "st-old"


def test_no_match_reports_best_similarity() -> None:
    candidates = [story("st-1", "Unitree files for Hong Kong IPO")]
    story_id, score = match_story(FakeItem("Deep Robotics files for Hong Kong IPO", None),
                                  candidates)
    assert story_id is None and 0 < score < SIMILARITY_THRESHOLD


def test_best_of_several_candidates() -> None:
    candidates = [
        story("st-a", "Hong Kong-Zhejiang supply chain mechanism becomes operational"),
        story("st-b", "Hong Kong, Zhejiang agree supply chain mechanism"),
    ]
    item = FakeItem("HK and Zhejiang agree new supply-chain mechanism", None)
    assert match_story(item, candidates)[0] == "st-b"
