"""Story identity as analysts correct it, through the CLI, on SQLite and PostgreSQL:
`tracker news --explain`, `tracker stories merge` and `tracker stories split`, and later
ingests that respect them.

The feeds are small RSS documents served on loopback; the database starts empty (no seeds).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cli import cli, ok
from tests.support.feed_server import FeedServer
from tracker.app import open_tracker
from tracker.errors import EXIT_ALREADY, EXIT_USAGE

Item = tuple[str, str, str, str, str]  # title, link, guid, pubDate, description

LAUNCH: Item = (
    "Hong Kong and Zhejiang set up supply chain services mechanism",
    "https://alpha.example/launch", "alpha-1", "Tue, 29 Apr 2025 10:30:00 +0800",
    "Hong Kong and Zhejiang agreed in Hangzhou to set up a supply chain services mechanism "
    "to help mainland manufacturers go global.")
FIRMS: Item = (
    "Twelve Zhejiang manufacturers sign up for Hong Kong supply chain services",
    "https://alpha.example/firms", "alpha-2", "Wed, 30 Apr 2025 10:30:00 +0800",
    "Twelve Zhejiang manufacturers joined the Hong Kong supply chain services mechanism on "
    "its first day.")


def copy(item: Item, site: str, guid: str) -> Item:
    """The same write-up on another site: same title and text, its own link and guid."""
    title, _link, _guid, published, text = item
    return (title, f"https://{site}.example/{guid}", guid, published, text)


def rss(*items: Item) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid isPermaLink=\"false\">{g}</guid>"
        f"<pubDate>{d}</pubDate><description>{s}</description></item>"
        for t, link, g, d, s in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>sample</title><link>https://sample.example/</link>"
            f"<description>sample</description>{body}</channel></rss>").encode()


@pytest.fixture
def url(db_url: str) -> str:
    open_tracker(db_url).close()  # migrated and empty: the CLI will not seed it
    return db_url


def ingest(url: str, server: FeedServer, feed: str, *items: Item) -> None:
    """Serve ``items`` as ``feed`` (subscribing it the first time) and ingest it."""
    server.serve(feed, rss(*items))
    ok(url, "feeds", "add", feed, server.url(feed), "--allow-private")
    ok(url, "ingest", "--feed", feed)


def stories(url: str) -> dict[str, dict[str, Any]]:
    report = json.loads(ok(url, "news", "--format", "json").stdout)
    return {s["title"]: s for s in report["stories"]}


def explained(url: str, story: str) -> dict[str, Any]:
    return json.loads(ok(url, "news", "--explain", story, "--format", "json").stdout)


def links(story: dict[str, Any]) -> set[str]:
    return {s["link"] for s in story["sources"]}


def log_length(url: str) -> int:
    return len(ok(url, "log", "--format", "jsonl").stdout.splitlines())


def test_explain_shows_how_each_item_joined_and_its_relevance(url, server) -> None:
    ingest(url, server, "alpha", LAUNCH, FIRMS)
    ingest(url, server, "beta", copy(LAUNCH, "beta", "beta-1"))
    story = stories(url)[LAUNCH[0]]

    report = explained(url, story["id"][:9])  # a unique prefix will do

    assert report["id"] == story["id"]
    first, second = report["items"]
    assert (first["feed"], first["link"], first["title"]) == ("alpha", LAUNCH[1], LAUNCH[0])
    assert first["published"].startswith("2025-04-29T02:30")
    assert first["joined"]["how"] == "story.created"
    assert "created the story" in first["joined"]["reason"]
    assert second["feed"] == "beta" and second["joined"]["how"] == "story.corroborated"
    assert second["joined"]["reason"]  # the evidence matching recorded
    for item in report["items"]:
        [decision] = item["relevance"]
        assert decision["relevant"] and decision["score"] > 0 and decision["matched"]
        assert decision["rules_version"] and decision["tier"]
    text = ok(url, "news", "--explain", story["id"]).stdout
    assert story["id"] in text and second["joined"]["reason"] in text
    assert "created the story" in text and "relevance: relevant" in text


def test_merge_then_a_later_copy_joins_the_kept_story(url, server) -> None:
    ingest(url, server, "alpha", LAUNCH, FIRMS)
    before = stories(url)
    kept, merged = before[LAUNCH[0]]["id"], before[FIRMS[0]]["id"]

    done = ok(url, "stories", "merge", kept, merged, "--note", "one launch, two write-ups")

    assert f"merged story {merged} into {kept}" in done.stdout
    after = stories(url)
    assert FIRMS[0] not in after  # shown as one story
    assert links(after[LAUNCH[0]]) == {LAUNCH[1], FIRMS[1]}
    ingest(url, server, "beta", copy(FIRMS, "beta", "beta-2"))
    later = stories(url)
    assert set(later) == {LAUNCH[0]}
    assert links(later[LAUNCH[0]]) == {LAUNCH[1], FIRMS[1], "https://beta.example/beta-2"}
    [merge] = [json.loads(line) for line in ok(url, "log", "--format", "jsonl", "--type",
                                                "story.merged").stdout.splitlines()]
    assert merge["data"] == {"story_id": kept, "merged_id": merged,
                             "note": "one launch, two write-ups"}
    report = explained(url, merged)  # the merged story's id explains the story it joined
    assert report["id"] == kept and report["merged"] == [merged]
    assert [c["type"] for c in report["corrections"]] == ["story.merged"]
    assert {i["link"] for i in report["items"]} == links(later[LAUNCH[0]])
    # later ingests build on it: a retraction would silently keep it, so it is refused
    head = len(ok(url, "log", "--format", "jsonl").stdout.splitlines())
    refused = cli(url, "retract", str(merge["position"]), "--reason", "undo")
    assert refused.exit_code == 2 and "tracker stories split" in refused.stderr
    assert len(ok(url, "log", "--format", "jsonl").stdout.splitlines()) == head


def test_split_then_a_reingest_does_not_rejoin(url, server) -> None:
    ingest(url, server, "alpha", LAUNCH)
    beta_copy = copy(LAUNCH, "beta", "beta-1")
    ingest(url, server, "beta", beta_copy)
    story = stories(url)[LAUNCH[0]]
    [item] = [i for i in explained(url, story["id"])["items"] if i["feed"] == "beta"]

    done = ok(url, "stories", "split", story["id"], item["item_key"])

    new_id = done.stdout.split(" into ")[1].split()[0]
    after = json.loads(ok(url, "news", "--format", "json").stdout)["stories"]
    by_id = {s["id"]: s for s in after}
    assert links(by_id[story["id"]]) == {LAUNCH[1]}
    assert links(by_id[new_id]) == {beta_copy[1]}
    # the same item again, revised, and a copy under the same link on a third feed
    revised = (*beta_copy[:4], beta_copy[4] + " More firms are expected to join.")
    ingest(url, server, "beta", revised)
    ingest(url, server, "gamma", beta_copy)
    by_id = {s["id"]: s for s in json.loads(ok(url, "news", "--format", "json").stdout)
             ["stories"]}
    assert links(by_id[story["id"]]) == {LAUNCH[1]}
    assert by_id[new_id]["revisions"] == 1
    assert links(by_id[new_id]) == {beta_copy[1]}
    assert [s["feed"] for s in by_id[new_id]["sources"]] == ["beta", "gamma"]
    report = explained(url, new_id)
    assert report["split_from"] == story["id"]
    assert "split out of story" in report["items"][0]["joined"]["reason"]
    old = explained(url, story["id"])
    assert old["items"][1]["left"]["story_id"] == new_id


@pytest.mark.parametrize("args", [
    ("stories", "merge", "st-000000000000", "{a}"),
    ("stories", "merge", "{a}", "{a}"),
    ("stories", "merge", "{a}", "{b}"),  # b was merged already (below)
    ("stories", "merge", "{b}", "{a}"),
    ("stories", "merge", "st-", "{a}"),
    ("stories", "split", "{a}", "no-such-item"),
    ("stories", "split", "st-ffffffffffff", "x"),
    ("stories", "split", "{b}", "whatever"),
    ("news", "--explain", "st-000000000000"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(url, server, args) -> None:
    ingest(url, server, "alpha", LAUNCH, FIRMS)
    ingest(url, server, "beta", copy(FIRMS, "beta", "beta-9"))
    found = stories(url)
    a, c, b = found[LAUNCH[0]]["id"], found[FIRMS[0]]["id"], None
    ok(url, "stories", "merge", a, c)
    b = c
    length = log_length(url)

    result = cli(url, *(arg.format(a=a, b=b) for arg in args))

    already = "already merged" in result.stderr  # the log holds it: its own exit code
    assert result.exit_code == (EXIT_ALREADY if already else EXIT_USAGE), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert "Traceback" not in result.output
    assert log_length(url) == length


def test_split_of_the_only_item_is_refused(url, server) -> None:
    ingest(url, server, "alpha", LAUNCH)
    story = stories(url)[LAUNCH[0]]
    [item] = explained(url, story["id"])["items"]

    result = cli(url, "stories", "split", story["id"], item["item_key"])

    assert result.exit_code == EXIT_USAGE
    assert "only item" in result.stderr
