"""The feed commands end to end through the CLI (SQLite): feeds, ingest, news, reclassify.

The database is created empty beforehand (no seeds, so no default subscriptions to the
network); the feeds are the sample feeds served by a loopback HTTP server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, logged_events, ok, one_line_error
from tests.support.feed_server import SAMPLE_NAMES, FeedServer
from tests.support.paths import ROOT, SAMPLE_FEEDS
from tracker.app import open_tracker
from tracker.errors import EXIT_SOME_FEEDS_FAILED

DELTA, GANGZHE, HARBOUR = SAMPLE_NAMES


@pytest.fixture
def url(sqlite_url: str) -> str:
    open_tracker(sqlite_url).close()  # migrated and empty: the CLI will not seed it
    return sqlite_url


def subscribe_samples(url: str, server: FeedServer,
                      names: tuple[str, ...] = SAMPLE_NAMES) -> dict[str, str]:
    urls = server.serve_samples(names)
    for name, feed_url in urls.items():
        ok(url, "feeds", "add", name, feed_url, "--allow-private")
    return urls


# -- feeds ------------------------------------------------------------------------------------


def test_feeds_add_list_and_change(url, server) -> None:
    feed_url = server.url(DELTA)

    added = ok(url, "feeds", "add", DELTA, feed_url, "--every", "1h30m", "--tag", "trade",
               "--tag", "hk", "--allow-private")

    assert added.stdout.strip() == f"following {DELTA}: {feed_url} every 90m"
    ok(url, "feeds", "add", HARBOUR, server.url(HARBOUR), "--allow-private")
    listed = ok(url, "feeds", "list").stdout.splitlines()
    assert listed[0].split() == ["feed", "every", "tags", "url"]
    assert listed[3:] == ["", "2 feeds"]
    assert re.fullmatch(rf"{DELTA}\s+90m\s+trade, hk\s+{re.escape(feed_url)}", listed[1])
    assert re.fullmatch(rf"{HARBOUR}\s+30m\s+—\s+{re.escape(server.url(HARBOUR))}", listed[2])
    as_json = json.loads(ok(url, "feeds", "list", "--format", "json").stdout)
    assert as_json == [
        {"name": DELTA, "url": feed_url, "every_seconds": 5400, "tags": ["trade", "hk"]},
        {"name": HARBOUR, "url": server.url(HARBOUR), "every_seconds": 1800, "tags": []},
    ]
    [subscribed, _] = logged_events(url, "feed.subscribed")
    assert subscribed["stream_id"] == f"feed:{DELTA}"
    assert subscribed["data"]["every_seconds"] == 5400

    # adding it again with another interval changes the subscription; the same again is a no-op
    ok(url, "feeds", "add", DELTA, feed_url, "--every", "2h")
    ok(url, "feeds", "add", DELTA, feed_url, "--every", "2h")
    changed = logged_events(url, "feed.changed")
    assert [e["data"] for e in changed] == [{"name": DELTA, "every_seconds": 7200}]
    assert json.loads(ok(url, "feeds", "list", "--format", "json").stdout)[0]["every_seconds"] \
        == 7200


def test_feeds_add_local_path_needs_allow_local(url) -> None:
    path = str(SAMPLE_FEEDS / f"{HARBOUR}.xml")

    refused = cli(url, "feeds", "add", "local", path)

    one_line_error(refused, 2, "--allow-local")
    assert logged_events(url, "feed.subscribed") == []

    accepted = ok(url, "feeds", "add", "local", path, "--allow-local")
    uri = Path(path).resolve().as_uri()
    assert accepted.stdout.strip() == f"following local: {uri} every 30m"
    # and it can be ingested offline
    ingested = ok(url, "ingest")
    assert "local: 6 new items" in ingested.stdout


@pytest.mark.parametrize("interval", ["30s", "soon", "1h and a bit", "0m"])
def test_feeds_add_refuses_a_bad_interval(url, server, interval) -> None:
    result = cli(url, "feeds", "add", DELTA, server.url(DELTA), "--every", interval,
                 "--allow-private")

    one_line_error(result, 2, "interval")
    assert ok(url, "feeds", "list").stdout == "no feeds followed\n"


@pytest.mark.parametrize("bad", ["ftp://example.org/feed.xml", "javascript:alert(1)"])
def test_feeds_add_refuses_other_schemes(url, bad) -> None:
    one_line_error(cli(url, "feeds", "add", "x", bad), 2, "must be http(s)")


def test_feeds_remove(url, server) -> None:
    subscribe_samples(url, server, (DELTA, HARBOUR))

    removed = ok(url, "feeds", "remove", DELTA)

    assert removed.stdout.strip() == f"no longer following {DELTA}"
    assert [f["name"] for f in json.loads(ok(url, "feeds", "list", "--format", "json").stdout)] \
        == [HARBOUR]
    [unsubscribed] = logged_events(url, "feed.unsubscribed")
    assert unsubscribed["stream_id"] == f"feed:{DELTA}"
    one_line_error(cli(url, "feeds", "remove", DELTA), 2, "no feed named")
    one_line_error(cli(url, "feeds", "remove", "never-added"), 2, "no feed named 'never-added'")
    # a removed feed is no longer polled
    ok(url, "ingest")
    assert server.seen(DELTA) == []
    assert len(server.seen(HARBOUR)) == 1


def test_feeds_health_shows_a_failing_feed(url, server) -> None:
    subscribe_samples(url, server)
    server.serve(GANGZHE, b"boom", status=500, content_type="text/plain")
    before = ok(url, "feeds", "health").stdout.split("\n\n")
    table = before[0].splitlines()
    assert re.fullmatch(r"feed\s+last success\s+fails\s+next attempt\s+items", table[0].strip())
    assert all(re.search(r"\bnever\s+0\s+now\s+0\s*$", line) for line in table[1:])
    assert before[1] == "3 feeds\n"

    cli(url, "ingest")
    text = ok(url, "feeds", "health").stdout
    table = text.split("\n\n")[0].splitlines()

    assert len(table) == 4
    rows = {line.split()[0]: line for line in table[1:]}
    assert re.search(r"\bnever\s+1\s+.+\s0$", rows[GANGZHE])
    errors = " ".join(text.split("Last errors\n")[1].split())  # the rows, unwrapped
    assert re.match(rf"{GANGZHE} HTTP 500 from http://127\.0\.0\.1:\d+/{GANGZHE} ", errors)
    assert text.endswith("\n3 feeds, 1 failing\n")
    for name in (DELTA, HARBOUR):
        assert re.search(r"\d{4}-\d\d-\d\d.*\s0\s+.+\s6$", rows[name])
    as_json = {r["name"]: r for r in json.loads(ok(url, "feeds", "health", "--format",
                                                   "json").stdout)}
    assert as_json[GANGZHE]["consecutive_failures"] == 1
    assert as_json[GANGZHE]["last_error"].startswith("HTTP 500")
    assert as_json[GANGZHE]["items_recorded"] == 0
    assert as_json[DELTA]["items_recorded"] == 6 and as_json[DELTA]["last_error"] is None


# -- ingest -----------------------------------------------------------------------------------


def test_ingest_exit_codes_and_summary(url, server) -> None:
    subscribe_samples(url, server)

    fine = cli(url, "ingest")

    assert fine.exit_code == 0, fine.output
    lines = fine.stdout.splitlines()
    assert lines[-1] == ("ingest: 3 feeds polled, 0 failed, 0 not due; 18 new items, "
                         "12 new stories")  # 10 core, 2 context (see test_news_text_and_json)
    # the mechanism story (with delta) and the Unitree filing (with gangzhe's Chinese copy)
    assert any(line.startswith(f"{HARBOUR}: 6 new items") and "2 corroborations" in line
               for line in lines)
    assert fine.stderr == ""

    again = cli(url, "ingest")  # nothing is due yet
    assert again.exit_code == 0
    assert again.stdout.strip() == ("ingest: 0 feeds polled, 0 failed, 3 not due; "
                                    "0 new items, 0 new stories")

    server.serve(DELTA, b"<html><body>gone</body></html>", content_type="text/html")
    failed = cli(url, "ingest", "--feed", DELTA)
    assert failed.exit_code == EXIT_SOME_FEEDS_FAILED == 6
    assert failed.stderr.strip() == f"{DELTA}: FAILED HTML page, not a feed"
    assert failed.stdout.strip() == ("ingest: 1 feed polled, 1 failed, 0 not due; "
                                     "0 new items, 0 new stories")


def test_ingest_one_failed_of_three_exits_6(url, server) -> None:
    subscribe_samples(url, server)
    server.serve(HARBOUR, b"down", status=500, content_type="text/plain")

    result = cli(url, "ingest")

    assert result.exit_code == 6
    assert result.stdout.splitlines()[-1].startswith("ingest: 3 feeds polled, 1 failed")
    assert "12 new items" in result.stdout.splitlines()[-1]
    assert result.stderr.startswith(f"{HARBOUR}: FAILED HTTP 500")


def test_ingest_unknown_feed(url, server) -> None:
    subscribe_samples(url, server, (DELTA,))

    one_line_error(cli(url, "ingest", "--feed", "nosuch"), 2, "no feed named 'nosuch'")
    assert server.seen(DELTA) == []


def test_ingest_dry_run_records_nothing(url, server) -> None:
    subscribe_samples(url, server, (DELTA,))
    head = len(logged_events(url))

    result = ok(url, "ingest", "--dry-run")

    assert f"{DELTA}: would record 6 new items" in result.stdout
    assert len(logged_events(url)) == head
    assert len(server.seen(DELTA)) == 1


# -- news and reclassify ----------------------------------------------------------------------


def test_news_text_and_json(url, server) -> None:
    assert ok(url, "news").stdout.strip() == "no stories"
    subscribe_samples(url, server)
    ok(url, "ingest")

    report = json.loads(ok(url, "news", "--format", "json").stdout)

    stories = report["stories"]
    # 10 core, 2 context: US tariffs to 145%, and the H20 licence requirement (delta-trade-wire),
    # context since rules 2025-05-01.4 (US curbs on the AI chips Zhejiang start-ups use)
    assert report["count"] == len(stories) == 12
    for story in stories:
        assert {"id", "title", "url", "sources", "published", "score", "matched",
                "facts"} <= set(story)
        assert story["id"].startswith("st-")
        assert story["sources"] and all({"feed", "link", "position"} <= set(s)
                                         for s in story["sources"])
        assert isinstance(story["score"], int) and story["matched"]
    published = [s["published"] for s in stories]
    assert published == sorted(published, reverse=True)  # newest first
    two = [s for s in stories if len(s["sources"]) == 2]
    assert sorted(sorted(src["feed"] for src in s["sources"]) for s in two) == \
        sorted([sorted([DELTA, HARBOUR]), sorted([GANGZHE, HARBOUR])])  # EN and ZH filing
    [shared] = [s for s in two if {src["feed"] for src in s["sources"]} == {DELTA, HARBOUR}]
    assert any(f["kind"] == "project_count" for f in shared["facts"])
    for fact in shared["facts"]:
        assert {"kind", "value", "sentence", "confidence", "position"} <= set(fact)

    text = ok(url, "news").stdout
    assert f"[{shared['short_id']}]" in text and shared["id"].startswith(shared["short_id"])
    assert f"- {DELTA}:" in text and f"- {HARBOUR}:" in text
    assert "* project count: more than 50 projects" in text
    assert "港浙簽署供應鏈服務機制合作協議" in text

    since = json.loads(ok(url, "news", "--since", "2025-06-01", "--format", "json").stdout)
    assert 0 < since["count"] < 11
    assert all(s["published"] >= "2025-06-01" for s in since["stories"])
    assert since["count"] == sum(1 for p in published if p >= "2025-06-01")
    one_line_error(cli(url, "news", "--since", "someday"), 2)


def _rules(tmp_path: Path, threshold: int, version: str, hk_alone: bool = False) -> Path:
    """The shipped core rules (no context tier) with another threshold (and, with
    ``hk_alone``, Hong Kong terms alone enough to be relevant, no topic vetoes)."""
    text = (ROOT / "seeds" / "relevance.toml").read_text(encoding="utf-8")
    text = text.split("\n[context]")[0]
    if hk_alone:
        text = re.sub(r"(?ms)^\[\[veto\]\].*?(?=^\[|\Z)", "", text)
    if hk_alone:
        text, n = re.subn(r"(?m)^require_any = \[$", 'require_any = [\n  ["hk"],', text)
        assert n == 1
    text, n = re.subn(r"(?m)^threshold = \d+$", f"threshold = {threshold}", text)
    assert n == 1
    text, n = re.subn(r'(?m)^version = ".*"$', f'version = "{version}"', text)
    assert n == 1
    path = tmp_path / f"rules-{threshold}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reclassify_with_stricter_rules(url, server, tmp_path) -> None:
    subscribe_samples(url, server)
    ok(url, "ingest")
    before = logged_events(url)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for e in before:
        if e["type"] == "item.classified":
            latest[(e["data"]["feed"], e["data"]["item_key"])] = e["data"]
    strict = 12
    dropping = {k for k, d in latest.items() if d["relevant"] and d["score"] < strict}
    staying = {k for k, d in latest.items() if d["relevant"] and d["score"] >= strict}
    assert dropping and staying  # the threshold splits the relevant items
    rules = _rules(tmp_path, strict, "test-strict.1")

    result = ok(url, "reclassify", "--rules", str(rules))

    assert result.stdout.strip() == (
        f"reclassified 18 item(s) under rules test-strict.1: {len(dropping)} changed, "
        f"0 newly relevant, {len(dropping)} no longer relevant")
    after = logged_events(url)
    assert after[:len(before)] == before  # earlier events untouched
    new = after[len(before):]
    classified = [e for e in new if e["type"] == "item.classified"]
    withdrawn = [e for e in new if e["type"] == "event.retracted"]
    assert len(classified) + len(withdrawn) == len(new)
    assert {(e["data"]["feed"], e["data"]["item_key"]) for e in classified} == dropping
    # the claims of items no longer relevant lose those sources
    facts = {e["position"]: e for e in before if e["type"] == "fact.extracted"}
    dropped_facts = {p for p, e in facts.items()
                     if (e["meta"]["source"]["feed"], e["meta"]["source"]["item_key"])
                     in dropping}
    assert {e["data"]["target_position"] for e in withdrawn} == dropped_facts
    for e in classified:
        assert e["data"]["relevant"] is False
        assert e["data"]["rules_version"] == "test-strict.1"
        assert e["data"]["threshold"] == strict
        assert e["data"]["reclassified"] is True
        assert e["stream_id"] == f"feed:{e['data']['feed']}"

    again = ok(url, "reclassify", "--rules", str(rules))
    assert ": 0 changed, 0 newly relevant, 0 no longer relevant" in again.stdout
    assert logged_events(url) == after
    assert ok(url, "verify").stdout.startswith("ok:")


def test_reclassify_back_to_the_shipped_rules_makes_no_second_story(url, server,
                                                                   tmp_path) -> None:
    subscribe_samples(url, server)
    ok(url, "ingest")
    ok(url, "reclassify", "--rules", str(_rules(tmp_path, 12, "test-strict.1")))
    stories = len(logged_events(url, "story.created"))

    back = ok(url, "reclassify")

    changed = int(re.search(r"(\d+) changed", back.stdout).group(1))
    assert changed > 0
    assert f"{changed} newly relevant, 0 no longer relevant" in back.stdout
    assert len(logged_events(url, "story.created")) == stories  # their stories already exist
    assert ": 0 changed" in ok(url, "reclassify").stdout


def test_reclassify_with_looser_rules_creates_stories(url, server, tmp_path) -> None:
    subscribe_samples(url, server, (HARBOUR,))
    ok(url, "ingest")
    latest = {e["data"]["item_key"]: e["data"] for e in logged_events(url, "item.classified")}
    loose = 2
    titles = {e["data"]["item_key"]: e["data"]["title"]
              for e in logged_events(url, "item.recorded")}
    rising = {k for k, d in latest.items() if not d["relevant"] and d["score"] >= loose}
    assert {titles[k] for k in rising} == {"Hong Kong home prices fall for third straight month",
                                           "Typhoon signal No 8 hoisted as storm nears Hong Kong"}
    stories_before = len(logged_events(url, "story.created"))
    result = ok(url, "reclassify", "--rules",
                str(_rules(tmp_path, loose, "test-loose.1", hk_alone=True)))

    assert ": 2 changed, 2 newly relevant, 0 no longer relevant" in result.stdout
    now_relevant = {e["data"]["item_key"] for e in logged_events(url, "item.classified")
                    if e["data"].get("reclassified") and e["data"]["relevant"]}
    created = logged_events(url, "story.created")
    assert now_relevant == rising
    assert len(created) == stories_before + len(now_relevant)
    assert {e["data"]["item_key"] for e in created[stories_before:]} == now_relevant
    assert all(e["data"]["title"] == titles[e["data"]["item_key"]]
               for e in created[stories_before:])
