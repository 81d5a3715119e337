"""Identity: canonical links, item keys and in-feed duplicates."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tracker.ingest.identity import (
    Deduped,
    canonical_link,
    content_hash,
    dedupe,
    dedupe_items,
    item_key,
)


@dataclass(frozen=True)
class FakeItem:
    guid: str | None
    link: str | None
    title: str = "Title"
    summary: str = "Summary"


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTPS://WWW.SCMP.com:443/news/a?utm_source=rss&utm_medium=feed#comments",
     "https://www.scmp.com/news/a"),
    ("http://Example.org:80", "http://example.org/"),
    ("http://example.org:8080/x", "http://example.org:8080/x"),
    ("https://news.example/a?z=1&b=2&fbclid=x&gclid=y&ref=tw&spm=a.b&mc_cid=1&mc_eid=2&cmpid=c"
     "&ocid=o", "https://news.example/a?b=2&z=1"),
    ("https://user:pw@news.example/a", "https://news.example/a"),
    (" https://news.example/a\t", "https://news.example/a"),
    ("https://news.example/a?q=", "https://news.example/a?q="),
])
def test_canonical_link(raw: str, expected: str) -> None:
    assert canonical_link(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "javascript:alert(1)", "java\tscript:alert(1)",
                                 "data:text/html,x", "ftp://example.org/f", "/relative/path",
                                 "mailto:a@b.c", "http://", "http://example.org:99999/"])
def test_canonical_link_rejects_non_http(raw: str | None) -> None:
    assert canonical_link(raw) is None


def test_item_key_precedence() -> None:
    assert item_key(FakeItem(guid="tag:x,2025:1", link="https://a.example/1")) == \
        "guid:tag:x,2025:1"
    assert item_key(FakeItem(guid=None, link="https://A.example/1?utm_source=x")) == \
        "link:https://a.example/1"
    hashed = item_key(FakeItem(guid=None, link=None, title="T", summary="S"))
    assert hashed == f"hash:{content_hash('T', 'S')}"


def test_permalink_guid_is_canonicalised_like_a_link() -> None:
    a = FakeItem(guid="https://News.example/a?utm_source=rss", link=None)
    b = FakeItem(guid="https://news.example/a#top", link=None)
    assert item_key(a) == item_key(b) == "guid:https://news.example/a"


def test_content_hash_ignores_spacing_and_case_but_not_words() -> None:
    assert content_hash("Hong  Kong", "Zhejiang\n deal") == \
        content_hash("hong kong", "zhejiang deal")
    assert content_hash("Hong Kong", "deal") != content_hash("Hong Kong", "deals")
    assert content_hash("a", "b c") != content_hash("a b", "c")


def test_dedupe_keeps_first_and_counts() -> None:
    items = [FakeItem("g1", None, "first"), FakeItem("g2", None), FakeItem("g1", None, "second"),
             FakeItem(None, "https://x.example/1"), FakeItem(None, "https://x.example/1?utm_x=1")]
    kept, dropped = dedupe_items(items)
    assert [i.title for i in kept][:2] == ["first", "Title"]
    assert len(kept) == 3 and dropped == 2


def test_a_guid_reused_by_another_story_keeps_both() -> None:
    first = FakeItem("g", "https://x.example/a", "Pact signed")
    other = FakeItem("g", "https://x.example/b", "Port desk opens")
    deduped = dedupe([first, other])
    assert deduped.kept == [first, FakeItem(None, "https://x.example/b", "Port desk opens")]
    assert (deduped.dropped, deduped.rekeyed) == (0, 1)
    assert [item_key(i) for i in deduped.kept] == ["guid:g", "link:https://x.example/b"]


@pytest.mark.parametrize("again", [
    FakeItem("g", "https://x.example/a?utm_source=rss", "Pact signed (updated)"),  # same link
    FakeItem("g", "https://x.example/moved", "  PACT  signed "),  # same title
])
def test_a_guid_repeated_for_the_same_story_is_a_duplicate(again: FakeItem) -> None:
    first = FakeItem("g", "https://x.example/a", "Pact signed")
    assert dedupe([first, again]) == Deduped([first], 1, 0)


def test_a_rekeyed_story_still_dedupes_by_its_link() -> None:
    items = [FakeItem(None, "https://x.example/b", "Port desk opens"),
             FakeItem("g", "https://x.example/a", "Pact signed"),
             FakeItem("g", "https://x.example/b", "Port desk opens (copy)")]
    deduped = dedupe(items)
    assert deduped.kept == items[:2]
    assert (deduped.dropped, deduped.rekeyed) == (1, 1)
    assert dedupe_items(items) == (items[:2], 1)
