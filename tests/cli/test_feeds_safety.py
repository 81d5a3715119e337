"""What `tracker feeds add` lets into the log, on SQLite and PostgreSQL: no internal address
without --allow-private (recorded in feed.subscribed, honoured by ingest), no credentials; and
a subscription logged without the permission is refused when fetched."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.cli import cli, logged_events, ok, one_line_error
from tests.support.feed_server import SAMPLE_NAMES, FeedServer
from tracker.app import open_tracker
from tracker.catalogue import FEED_SUBSCRIBED
from tracker.errors import EXIT_SOME_FEEDS_FAILED, EXIT_USAGE
from tracker.events import NewEvent

DELTA = SAMPLE_NAMES[0]
INTERNAL_HOSTS = ["169.254.169.254", "localhost", "127.1", "0", "2130706433", "0x7f000001",
                  "[::1]", "[::ffff:127.0.0.1]", "0177.0.0.1", "10.0.0.1", "100.64.0.1",
                  "224.0.0.1", "[fe80::1]", "feeds.localhost"]


@pytest.fixture
def url(db_url: str) -> str:
    open_tracker(db_url).close()
    return db_url


def subscribed(url: str, name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in logged_events(url, FEED_SUBSCRIBED) if e["data"]["name"] == name]


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_feeds_add_refuses_internal_addresses_in_every_spelling(url, host) -> None:
    line = one_line_error(cli(url, "feeds", "add", "meta", f"http://{host}/latest/meta-data/"),
                          EXIT_USAGE, "refused: ", "internal address", "--allow-private")

    assert host.strip("[]") in line
    assert subscribed(url, "meta") == []


def test_allow_private_is_recorded_and_honoured(url, server: FeedServer) -> None:
    feed_url = server.serve_samples((DELTA,))[DELTA]
    one_line_error(cli(url, "feeds", "add", DELTA, feed_url), EXIT_USAGE,
                   "refused: 127.0.0.1 is an internal")

    ok(url, "feeds", "add", DELTA, feed_url, "--allow-private")
    ok(url, "feeds", "add", "elsewhere", "https://elsewhere.example/rss.xml")

    assert subscribed(url, DELTA)[0]["allow_private"] is True
    assert subscribed(url, "elsewhere")[0]["allow_private"] is False
    ingested = ok(url, "ingest", "--feed", DELTA)
    assert f"{DELTA}: 6 new items" in ingested.stdout
    assert len(server.seen(DELTA)) == 1
    # given once it stays: adding the feed again without it changes nothing
    ok(url, "feeds", "add", DELTA, feed_url)
    assert [e for e in logged_events(url, "feed.changed") if e["data"]["name"] == DELTA] == []


def test_allow_private_given_later_is_recorded_as_a_change(url, server: FeedServer) -> None:
    feed_url = server.serve_samples((DELTA,))[DELTA]
    ok(url, "feeds", "add", DELTA, "https://delta.example/rss.xml")

    ok(url, "feeds", "add", DELTA, feed_url, "--allow-private")

    [changed] = [e["data"] for e in logged_events(url, "feed.changed")
                 if e["data"]["name"] == DELTA]
    assert changed == {"name": DELTA, "url": feed_url, "allow_private": True}
    assert f"{DELTA}: 6 new items" in ok(url, "ingest", "--feed", DELTA).stdout


def test_a_feed_logged_without_the_permission_is_refused_when_fetched(
        url, server: FeedServer) -> None:
    """A subscription from before the check (no allow_private field) reads as not allowed."""
    feed_url = server.serve_samples((DELTA,))[DELTA]
    tracker = open_tracker(url)
    try:
        tracker.store.append(f"feed:{DELTA}", [NewEvent(
            FEED_SUBSCRIBED, {"name": DELTA, "url": feed_url, "every_seconds": 1800},
            datetime(2025, 5, 1, tzinfo=UTC))])
    finally:
        tracker.close()

    result = cli(url, "ingest", "--feed", DELTA)

    assert result.exit_code == EXIT_SOME_FEEDS_FAILED
    assert f"{DELTA}: FAILED refused: 127.0.0.1 is an internal address" in result.stderr
    assert server.requests == []
    health = json.loads(ok(url, "feeds", "health", "--format", "json").stdout)
    [row] = [r for r in health if r["name"] == DELTA]
    assert row["consecutive_failures"] == 1 and row["last_error"].startswith("refused: ")


@pytest.mark.parametrize("feed_url", [
    "https://reader:s3cret@feeds.example/rss.xml", "http://reader:s3cret@10.0.0.1/rss.xml",
    "https://:s3cret@feeds.example/rss.xml", "https://reader@feeds.example/rss.xml"])
def test_feeds_add_refuses_credentials_without_echoing_them(url, feed_url) -> None:
    result = cli(url, "feeds", "add", "private", feed_url, "--allow-private")

    one_line_error(result, EXIT_USAGE, "credentials")
    assert "s3cret" not in result.output and "reader" not in result.output
    assert subscribed(url, "private") == []
    assert "s3cret" not in ok(url, "log", "--format", "jsonl").stdout


def test_other_refusals_do_not_echo_credentials(url) -> None:
    result = cli(url, "feeds", "add", "x", "ftp://reader:s3cret@feeds.example/rss.xml")
    one_line_error(result, EXIT_USAGE, "must be http(s)")
    assert "s3cret" not in result.output
