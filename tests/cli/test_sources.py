"""Publishers and tiers through the CLI, on SQLite and PostgreSQL: `feeds add --tier
--publisher`, the default feeds' tiers, `tracker sources` and `tracker sources set-tier`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.cli import cli, logged_events, ok, one_line_error
from tracker.app import open_tracker
from tracker.errors import EXIT_USAGE

FEED = "https://harbour.example/rss.xml"
WIRE = "https://wire.example/rss.xml"


@pytest.fixture
def url(db_url: str) -> str:
    open_tracker(db_url).close()  # migrated and empty: the CLI will not seed it
    return db_url


def listed(url: str) -> dict[str, dict[str, Any]]:
    report = json.loads(ok(url, "sources", "--format", "json").stdout)
    return {p["publisher"]: p for p in report["publishers"]}


def test_feeds_add_records_publisher_and_tier_with_defaults(url) -> None:
    ok(url, "feeds", "add", "harbour", FEED, "--tier", "press", "--publisher", "Harbour Daily")
    ok(url, "feeds", "add", "plain", "https://plain.example/rss")

    subscribed = {e["data"]["name"]: e for e in logged_events(url, "feed.subscribed")}
    data = {name: e["data"] for name, e in subscribed.items()}
    assert (data["harbour"]["publisher"], data["harbour"]["tier"]) == ("Harbour Daily", "press")
    assert (data["plain"]["publisher"], data["plain"]["tier"]) == ("plain", "unrated")
    publishers = listed(url)
    assert set(publishers) == {"Harbour Daily", "plain"}
    assert publishers["Harbour Daily"] == {
        "publisher": "Harbour Daily", "tier": "press", "tier_set_by": "feed",
        "tier_given": "press", "note": None, "feeds": ["harbour"],
        "sources": [{"position": subscribed["harbour"]["position"], "citation": {}}]}
    assert publishers["plain"]["tier"] == "unrated"


def test_feeds_add_changes_tier_or_publisher_with_feed_changed(url) -> None:
    ok(url, "feeds", "add", "wire", WIRE)
    ok(url, "feeds", "add", "wire", WIRE, "--tier", "wire")
    ok(url, "feeds", "add", "wire", WIRE, "--tier", "wire")  # the same again: nothing new
    ok(url, "feeds", "add", "wire", WIRE, "--publisher", "Delta Wire")
    ok(url, "feeds", "add", "wire", WIRE)  # neither given: both stay

    assert [e["data"] for e in logged_events(url, "feed.changed")] == [
        {"name": "wire", "publisher": "wire", "tier": "wire"},
        {"name": "wire", "publisher": "Delta Wire", "tier": "wire",
         "previous_publisher": "wire"},
    ]
    publishers = listed(url)
    assert list(publishers) == ["Delta Wire"]
    assert (publishers["Delta Wire"]["tier"], publishers["Delta Wire"]["feeds"]) \
        == ("wire", ["wire"])


def test_feeds_add_spells_a_known_publisher_as_it_is_known(url) -> None:
    ok(url, "feeds", "add", "x-en", WIRE, "--publisher", "Xinhua", "--tier", "wire")
    ok(url, "feeds", "add", "x-zh", FEED, "--publisher", "xinhua", "--tier", "wire")

    assert listed(url)["Xinhua"]["feeds"] == ["x-en", "x-zh"]


@pytest.mark.parametrize("tier", ["tabloid", "Official", ""])
def test_feeds_add_refuses_an_unknown_tier(url, tier) -> None:
    one_line_error(cli(url, "feeds", "add", "harbour", FEED, "--tier", tier), EXIT_USAGE, "tier")
    assert logged_events(url) == []


def test_the_default_feeds_carry_their_tiers_after_first_use(db_url) -> None:
    publishers = listed(db_url)  # a new database: seeded on first use

    tiers = {name: p["tier"] for name, p in publishers.items() if p["feeds"]}
    assert tiers == {"HKSAR Government": "official", "Xinhua": "wire",
                     "South China Morning Post": "press", "RTHK": "press",
                     "The Standard": "press", "China Daily": "press"}
    assert all(p["tier_set_by"] == "feed" for name, p in publishers.items() if name in tiers)
    government = publishers["HKSAR Government"]["feeds"]
    assert "hkgov-press-en" in government and "newsgovhk-top-en" in government
    assert publishers["HKSAR Government"]["sources"][0]["citation"] == {"id": "seeds/feeds.json"}
    text = ok(db_url, "sources").stdout.splitlines()
    assert text[1].startswith("HKSAR Government") and " official " in text[1]


def test_set_tier_records_an_event_and_changes_the_listing(url) -> None:
    ok(url, "feeds", "add", "x-en", WIRE, "--publisher", "Xinhua", "--tier", "wire")
    ok(url, "feeds", "add", "harbour", FEED, "--publisher", "Harbour Daily", "--tier", "press")
    before = ok(url, "sources").stdout
    assert before.splitlines()[1].startswith("Xinhua ")  # wire ranks above press

    result = ok(url, "sources", "set-tier", "xinhua", "aggregator", "--note", "rewrites others")

    assert result.stdout == "Xinhua: aggregator (set by analyst)\n"
    [rated] = logged_events(url, "publisher.rated")
    assert rated["data"] == {"publisher": "Xinhua", "tier": "aggregator",
                             "note": "rewrites others"}
    assert rated["stream_id"] == "publisher:Xinhua"
    xinhua = listed(url)["Xinhua"]
    assert {k: xinhua[k] for k in ("tier", "tier_set_by", "tier_given", "note")} == {
        "tier": "aggregator", "tier_set_by": "analyst", "tier_given": "wire",
        "note": "rewrites others"}
    assert xinhua["sources"] == [{"position": rated["position"], "citation": {}}]
    after = ok(url, "sources").stdout.splitlines()
    assert after[1].startswith("Harbour Daily ")
    assert re.fullmatch(rf"Xinhua\s+aggregator\s+analyst #{rated['position']}\s+x-en "
                        r"\(note: rewrites others; its sources give wire\)", after[2])


def test_a_retracted_rating_gives_back_the_tier_the_feeds_give(url) -> None:
    ok(url, "feeds", "add", "x-en", WIRE, "--publisher", "Xinhua", "--tier", "wire")
    ok(url, "sources", "set-tier", "Xinhua", "press")
    [rated] = logged_events(url, "publisher.rated")

    ok(url, "retract", str(rated["position"]), "--reason", "rated the wrong publisher")

    assert (listed(url)["Xinhua"]["tier"], listed(url)["Xinhua"]["tier_set_by"]) \
        == ("wire", "feed")


@pytest.mark.parametrize(("args", "fragment"), [
    (("Xinhua", "tabloid"), "unknown tier 'tabloid'"),
    (("Nobody Weekly", "press"), "unknown publisher 'Nobody Weekly'"),
    (("Nobody Weekly", "tabloid"), "unknown tier"),
])
def test_set_tier_refuses_bad_input_and_writes_nothing(url, args, fragment) -> None:
    ok(url, "feeds", "add", "x-en", WIRE, "--publisher", "Xinhua", "--tier", "wire")
    head = len(logged_events(url))

    one_line_error(cli(url, "sources", "set-tier", *args), EXIT_USAGE, fragment)

    assert len(logged_events(url)) == head
    assert listed(url)["Xinhua"]["tier"] == "wire"


def test_sources_on_an_empty_log(url) -> None:
    assert ok(url, "sources").stdout == "no publishers\n"
    assert json.loads(ok(url, "sources", "--format", "json").stdout) == {"publishers": []}
