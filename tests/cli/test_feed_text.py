"""Feed text through the CLI: Markdown that cannot be turned against its reader, dates a feed
did not give shown as "first seen", and truncated bodies completed by a later fetch.

Feeds are local files (``--allow-local``), so nothing here needs the network; the database is
seeded on first use, so items reach the dossier's stories, claims and reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.support.cli import logged_events, ok
from tests.support.markdown import as_read, images, links, raw_html
from tests.support.paths import INGEST_FIXTURES

HOSTILE_PUBLISHER = "Evil](https://phish.example) ![x](https://t.example/p.png) <img src=x>"
#: The only link the hostile feed's reports may hold: its one http(s) item link, written by
#: the renderer (the space a browser would drop is gone, the parentheses percent-encoded).
ITEM_LINK = "https://news.example/a/%281%29x"


def rewrite(path: Path, text: str, second: int) -> None:
    """Change a local feed, with a modification time of its own (one-second resolution)."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, (1_750_000_000 + second, 1_750_000_000 + second))


def follow(url: str, tmp_path: Path, name: str, fixture: str, *extra: str) -> Path:
    """Subscribe ``name`` to a copy of the ingest fixture (the test may rewrite it)."""
    path = tmp_path / f"{name}.xml"
    shutil.copy(INGEST_FIXTURES / fixture, path)
    ok(url, "feeds", "add", name, str(path), "--allow-local", *extra)
    return path


@pytest.fixture
def hostile(sqlite_url: str, tmp_path: Path) -> str:
    follow(sqlite_url, tmp_path, "hostile", "hostile_markdown.xml",
           "--publisher", HOSTILE_PUBLISHER, "--tier", "official")
    assert "hostile: 2 new items, 2 new stories" in ok(sqlite_url, "ingest", "--feed",
                                                     "hostile").stdout
    return sqlite_url


def _story_ids(url: str) -> list[str]:
    return [s["id"] for s in json.loads(ok(url, "news", "--format", "json").stdout)["stories"]]


def test_feed_text_makes_no_links_images_or_html_in_any_markdown_report(hostile: str) -> None:
    reports = {
        "news": ok(hostile, "news", "--format", "markdown").stdout,
        "status": ok(hostile, "status", "--format", "markdown").stdout,
        "timeline": ok(hostile, "timeline", "--format", "markdown").stdout,
        "claims": ok(hostile, "claims", "--state", "all", "--format", "markdown").stdout,
        **{f"explain {sid}": ok(hostile, "news", "--explain", sid, "--format",
                                "markdown").stdout for sid in _story_ids(hostile)},
    }
    for name, markdown in reports.items():
        assert set(links(markdown)) <= {ITEM_LINK}, name
        assert images(markdown) == [], name
        assert raw_html(markdown) == [], name
    # the text is all there, as literal text: escaped, not dropped
    shown = as_read(reports["news"])
    assert "![pixel](https://track.example/p.png?who=you) [Official notice](" \
           "https://phish.example/login) **urgent** | www.evil.com # done" in shown
    assert "[Click](https://phish.example/2) Hong Kong Zhejiang" in shown
    assert HOSTILE_PUBLISHER in as_read(reports["status"])
    assert HOSTILE_PUBLISHER in as_read(reports["claims"])
    # our own links are there, and only to the http(s) item link
    assert ITEM_LINK in links(reports["news"]) and ITEM_LINK in links(reports["status"])
    assert not any("javascript" in link for m in reports.values() for link in links(m))


def test_every_line_of_feed_text_stays_in_its_block(hostile: str) -> None:
    """Headings, quotes and lists from a summary never become blocks of the report."""
    for args in (("news",), ("status",), ("timeline",), ("claims", "--state", "all")):
        markdown = ok(hostile, *args, "--format", "markdown").stdout
        for line in markdown.splitlines():
            assert not line.startswith(("> ", "# Not", "<")), (args, line)


def test_unknown_dates_are_shown_as_first_seen(sqlite_url: str, tmp_path: Path) -> None:
    follow(sqlite_url, tmp_path, "hostile", "hostile_markdown.xml")
    ok(sqlite_url, "ingest", "--feed", "hostile")
    [recorded] = [e for e in logged_events(sqlite_url, "item.recorded")
                  if e["data"]["item_key"] == "guid:hostile-2"]
    assert recorded["data"]["published"] is None
    assert recorded["data"]["published_source"] == "first_seen"
    stories = json.loads(ok(sqlite_url, "news", "--format", "json").stdout)["stories"]
    undated = next(s for s in stories if s["title"].startswith("[Click]"))
    dated = next(s for s in stories if not s["title"].startswith("[Click]"))
    assert (undated["published_source"], dated["published_source"]) == ("first_seen", "feed")
    day = undated["published"][:10]

    text = ok(sqlite_url, "news").stdout
    assert f"first seen {day}  [Click]" in text
    assert re.search(r"2025-04-29 +Hong Kong and Zhejiang", text)
    assert f"first seen {day}" in as_read(ok(sqlite_url, "news", "--format", "markdown").stdout)
    status = " ".join(ok(sqlite_url, "status").stdout.split())
    assert f"first seen {day} [Click]" in status
    assert f"(first seen {day})" in as_read(ok(sqlite_url, "status", "--format",
                                               "markdown").stdout)
    timeline = " ".join(ok(sqlite_url, "timeline").stdout.split())
    assert "[Click](https://phish.example/2) Hong Kong Zhejiang supply chain services " \
           "mechanism serves first 12 firms (first seen: the feed gave no usable date)" in timeline
    assert "(first seen: the feed gave no usable date), cited at" in timeline  # its source
    explained = ok(sqlite_url, "news", "--explain", undated["id"]).stdout
    # the instant in the zone shown (UTC in the tests), without microseconds
    assert f"first seen {undated['published'][:19].replace('T', ' ')} UTC" in explained


def test_a_truncated_item_is_completed_by_a_later_fetch_and_never_cut_again(
        sqlite_url: str, tmp_path: Path) -> None:
    path = follow(sqlite_url, tmp_path, "cut", "cut_off_item.xml")
    ok(sqlite_url, "ingest", "--feed", "cut")
    [recorded] = [e["data"] for e in logged_events(sqlite_url, "item.recorded")
                  if e["data"]["item_key"] == "guid:c-2"]
    assert recorded["truncated"] is True
    assert recorded["summary"].startswith("Hong Kong and Zhejiang agreed a supply chain")

    cut = path.read_text(encoding="utf-8")
    full = (cut + 'more">details</a> were still being settled.</p>]]></description></item>'
            "</channel></rss>")
    rewrite(path, full, 1)
    assert "1 revision," in ok(sqlite_url, "ingest", "--feed", "cut").stdout
    [revised] = [e["data"] for e in logged_events(sqlite_url, "item.revised")]
    assert revised["truncated"] is False
    assert revised["summary"].endswith("Officials said the details were still being settled.")

    rewrite(path, cut, 2)  # cut off again: the full text stands
    assert "0 revisions" in ok(sqlite_url, "ingest", "--feed", "cut").stdout
    assert len(logged_events(sqlite_url, "item.revised")) == 1
