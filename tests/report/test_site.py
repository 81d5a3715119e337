"""`tracker report --format html` end to end (CliRunner): the pages, the chart, the change feed,
both time axes, hostile feed text, and bad output directories."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from tests.report.conftest import (
    BEFORE_NEWS,
    EVIL_ID,
    EVIL_TITLE,
    TARIFF_STORY,
    Log,
    build,
    report,
)
from tests.support.cli import cli
from tests.support.events import POLICY
from tracker.render.html import CSP, page_name

CSP_TAG = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'.replace("'", "&#39;")


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def html_pages(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def rate_steps(index: str, slot: str = "tariff:us:china") -> tuple[str, list[tuple[float, float]]]:
    """The ``data-steps`` of a rate's step line and its polyline's points."""
    found = re.search(rf'<g class="rate" data-slot="{re.escape(slot)}" data-steps="([^"]*)">'
                      r'<polyline [^>]*points="([^"]*)"', index)
    assert found, "no step line for " + slot
    points = [tuple(float(v) for v in p.split(",")) for p in found.group(2).split()]
    return found.group(1), points  # type: ignore[return-value]


# -- the pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_site_has_every_page_and_each_forbids_loading_and_running_anything(
        backend, request, tmp_path) -> None:
    url = build(request.getfixturevalue(f"{'sqlite_url' if backend == 'sqlite' else 'pg_url'}")
                ).url
    out = report(url, tmp_path / "site")

    index = (out / "index.html").read_text(encoding="utf-8")
    assert (out / "changes.xml").is_file()
    assert (out / "stories" / "index.html").is_file()
    for story_id in (TARIFF_STORY["story_id"], EVIL_ID):
        assert (out / "stories" / page_name(story_id)).is_file()
        assert f'href="stories/{page_name(story_id)}"' in index
    assert not list(tmp_path.glob(".site.*")), "the staging directory was left behind"
    for page in html_pages(out):
        text = page.read_text(encoding="utf-8")
        assert text.count(CSP_TAG) == 1, page
        assert text.index(CSP_TAG) < text.index("<title>"), "the policy must come first"
        for tag, attrs in tags(text):
            assert tag not in ("script", "iframe", "object", "embed", "link", "img", "base",
                               "form"), (page, tag)
            assert "src" not in attrs, (page, tag, attrs)
        assert "@import" not in text and "url(" not in text, page
    # what the dossier shows: status, facts with sources and tiers, disputes, questions...
    assert "Hong Kong–Zhejiang supply-chain services mechanism" in index
    assert 'class="lifecycle">announced<' in index
    assert "Open questions" in index and "Commentary" in index
    assert '<span class="tier tier-official">official</span>' in index
    assert 'class="fact state-accepted"' in index


def test_a_story_page_lists_every_source_that_carried_it(report_log: Log, tmp_path) -> None:
    out = report(report_log.url, tmp_path / "site")

    page = (out / "stories" / page_name(TARIFF_STORY["story_id"])).read_text(encoding="utf-8")

    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td><span[^>]*>"
                      r"([^<]*)</span></td><td>([^<]*)</td><td>(.*?)</td></tr>", page)
    assert [(feed, publisher, tier) for _p, feed, publisher, tier, _t, _l in rows] == [
        ("hksar-government", "HKSAR Government", "official"), ("wire", "wire", "unrated")]
    assert f'href="{TARIFF_STORY["url"]}"' in rows[0][5]
    assert rows[1][4] == "Tariff falls to 30%"
    assert "tariff_rate" in page and "value 30" in page  # its fact


def test_the_chart_draws_the_tariff_as_a_step_line_from_145_to_30(report_log: Log,
                                                                  tmp_path) -> None:
    index = (report(report_log.url, tmp_path / "site") / "index.html").read_text("utf-8")

    steps, points = rate_steps(index)
    assert steps == "2025-04=145 2025-05-14=30"
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    assert y0 == y1 < y2 == y3, "145% held, then a drop to 30% (SVG y grows downwards)"
    assert x0 < x1 == x2 < x3, "the drop is one vertical step on 14 May"
    # 145 / 30 in pixels from the zero line: the drawn heights keep the ratio
    zero = float(re.search(r'<text x="[\d.]+" y="([\d.]+)"[^>]*>0%</text>', index)[1]) - 4
    assert abs((zero - y0) / (zero - y2) - 145 / 30) < 0.05
    assert "up to 145% (2025-04)" in index and "30% (2025-05-14)" in index
    assert '<g class="volume">' in index and "week of 2025-05-12: 1 story" in index
    assert '<g class="milestone" data-at="2025-04">' in index
    assert "Chief Executive&#39;s four-day visit to Zhejiang" in index  # the chart's key


def test_hostile_feed_text_is_shown_as_text_and_never_runs(report_log: Log, tmp_path) -> None:
    out = report(report_log.url, tmp_path / "site")

    evil = out / "stories" / page_name(EVIL_ID)
    assert evil.parent == out / "stories" and evil.name.startswith("s-")  # no path from an id
    for page in [out / "index.html", out / "stories" / "index.html", evil]:
        text = page.read_text(encoding="utf-8")
        found = tags(text)
        assert not [t for t, _a in found if t in ("script", "img", "iframe", "b")], page
        for tag, attrs in found:
            assert not [a for a in attrs if a.startswith("on")], (page, tag, attrs)
            href = (attrs.get("href") or "").strip().lower()
            assert not href.startswith(("javascript:", "data:", "vbscript:")), (page, href)
        assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in text, page
    story = evil.read_text(encoding="utf-8")
    assert "&lt;iframe src=&#34;https://evil.example/&#34;&gt;" in story
    assert "(not an http(s) link)" in story  # the javascript: URL, as text
    assert "&#34;&gt;&lt;svg onload=alert(2)&gt;" in story
    assert EVIL_TITLE not in story


def test_changes_xml_is_an_atom_feed_of_accepted_changes_with_stable_ids(
        report_log: Log, tmp_path) -> None:
    out = report(report_log.url, tmp_path / "site")

    feed = feedparser.parse(str(out / "changes.xml"))
    assert feed.bozo is False, feed.get("bozo_exception")
    assert feed.version == "atom10"
    entries = {e.id: e for e in feed.entries}
    assert len(entries) == len(feed.entries) > 10
    [cut] = [e for e in feed.entries if e.title == "tariff:us:china: 30"]
    assert "World date: 2025-05-14" in cut.summary
    assert "Recorded: 2026-01-02T00:00:00" in cut.summary
    assert f"log #{report_log.tariff_position}" in cut.summary
    assert "HKSAR Government (official)" in cut.summary
    assert [link.href for link in cut.links if link.rel == "related"] == [TARIFF_STORY["url"]]
    assert cut.updated.startswith("2026-01-02T00:00:00")
    status = [e for e in feed.entries if e.title == "status: announced"]
    assert len(status) == 1 and "World date: 2025-04" in status[0].summary

    again = feedparser.parse(str(report(report_log.url, out) / "changes.xml"))  # re-run
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "tracker.db"]


# -- time travel ----------------------------------------------------------------------------------


def test_as_of_shows_what_the_log_knew_then(report_log: Log, tmp_path) -> None:
    out = report(report_log.url, tmp_path / "then", "--as-of", BEFORE_NEWS)

    index = (out / "index.html").read_text(encoding="utf-8")
    steps, _points = rate_steps(index)
    assert steps == "2025-04=145"
    assert not list((out / "stories").glob("st-*.html"))
    assert "All 0 stories" in index
    feed = feedparser.parse(str(out / "changes.xml"))
    assert feed.bozo is False and feed.entries
    assert not [e for e in feed.entries if e.title.startswith("tariff:us:china")]


def test_world_as_of_shows_what_had_happened_in_the_world_by_then(report_log: Log,
                                                                  tmp_path) -> None:
    before = (report(report_log.url, tmp_path / "before", "--world-as-of", "2025-05-10")
              / "index.html").read_text(encoding="utf-8")
    after = (report(report_log.url, tmp_path / "after", "--world-as-of", "2025-05-20")
             / "index.html").read_text(encoding="utf-8")

    assert rate_steps(before)[0] == "2025-04=145"
    assert rate_steps(after)[0] == "2025-04=145 2025-05-14=30"
    assert TARIFF_STORY["title"] not in before and TARIFF_STORY["title"] in after
    # the view line names the bound: the end of the day asked about, never the day after
    assert "by end of 2025-05-10 (23:59 UTC)" in before and "2025-05-11" not in before


def test_policy_narrows_the_site_to_one_dossier(report_log: Log, tmp_path) -> None:
    out = report(report_log.url, tmp_path / "one", "--policy", POLICY)
    assert f'id="policy-{POLICY}"' in (out / "index.html").read_text(encoding="utf-8")

    result = cli(report_log.url, "report", "-o", str(tmp_path / "none"), "--policy", "nope")
    one_line_error(result, 2, "no policy 'nope' is tracked")
    assert not (tmp_path / "none").exists()


# -- bad output directories ------------------------------------------------------------------------


def one_line_error(result, code: int, fragment: str) -> None:
    assert result.exit_code == code, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_bad_output_directories_are_refused_in_one_line(report_log: Log, tmp_path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me too")

    one_line_error(cli(report_log.url, "report", "-o", str(a_file)), 2, "is a file")
    one_line_error(cli(report_log.url, "report", "-o", str(a_file / "sub")), 2,
                   "is not a directory")
    one_line_error(cli(report_log.url, "report", "-o", str(mine)), 2, "not empty")
    one_line_error(cli(report_log.url, "report", "-o", str(tmp_path / "no" / "such")), 2,
                   "is not a directory")
    assert a_file.read_text() == "keep me" and (mine / "notes.txt").read_text() == "keep me too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "mine", "tracker.db"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_an_unwritable_parent_is_refused_in_one_line(report_log: Log, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_line_error(cli(report_log.url, "report", "-o", str(locked / "site")), 2,
                       "cannot write the report")
    finally:
        locked.chmod(0o700)


def test_an_unwritable_place_is_refused_in_one_line_even_for_root(report_log: Log) -> None:
    result = cli(report_log.url, "report", "-o", "/proc/tracker-report-test")
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
