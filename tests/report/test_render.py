"""The pure parts of the report: which links are kept, story file names, the chart's data and
drawing, the change feed of an empty site, and putting a site in place."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from tracker import report_chart, report_publish
from tracker.errors import UsageError
from tracker.render import html, svg


@pytest.mark.parametrize("url", [
    "https://news.example/a?b=1#c", "http://news.example/", "HTTPS://NEWS.EXAMPLE/x",
])
def test_http_links_are_kept(url: str) -> None:
    assert html.safe_url(url) == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:x", "//evil.example/x", "/local",
    "file:///etc/passwd", "https://", "http://exa mple.com/", "https://a.example/\x00",
    None, 42, "x" * 3000,
])
def test_every_other_link_is_dropped(url: object) -> None:
    assert html.safe_url(url) is None


@pytest.mark.parametrize("story_id", ["../../etc/passwd", ".hidden", "a/b", "<script>", "",
                                      "x" * 300, "st-ok..", "ünï"])
def test_a_story_id_never_chooses_its_own_path(story_id: str) -> None:
    name = html.page_name(story_id)
    assert name.startswith("s-") and name.endswith(".html") and "/" not in name
    assert html.page_name(story_id) == name  # stable across runs


def test_a_plain_story_id_is_its_own_file_name() -> None:
    assert html.page_name("st-cdb15add23a3") == "st-cdb15add23a3.html"


def _fact(value: float, *, sources: bool = True, at: str = "2025-04") -> dict[str, object]:
    return {"key": "context.tariffs.us", "occurred_at": at, "precision": "month",
            "value": {"title": "US tariffs", "slot": "tariff:us:china", "value": value,
                      "unit": "percent", "qualifier": "up_to"},
            "sources": [{"position": 3, "citation": {"publication": "Paper"}}] if sources
            else []}


def _claim(value: object, state: str = "accepted", as_of: str = "2025-05-14",
           position: int = 9) -> dict[str, object]:
    return {"slot": "tariff:us:china", "value": value, "state": state, "as_of": as_of,
            "precision": "day", "sources": [{"position": position, "publisher": "Gov"}]}


def test_a_rate_steps_through_its_sourced_and_accepted_values_only() -> None:
    [line] = report_chart.rate_series(
        [_fact(145)],
        [_claim(30), _claim(90, "conflict", "2025-05-20"), _claim(10, "pending", "2025-06-01"),
         _claim(145, as_of="2025-04-10"), _claim(30, as_of="2025-05-30", position=12)])

    assert [(s["label"], s["value"]) for s in line["steps"]] == [("2025-04", 145),
                                                                 ("2025-05-14", 30)]
    assert line["unit"] == "percent" and line["title"] == "US tariffs"
    assert line["steps"][0]["qualifier"] == "up_to" and line["steps"][0]["sources"] == ["Paper"]


def test_an_unsourced_value_is_not_drawn() -> None:
    assert report_chart.rate_series([_fact(145, sources=False)], []) == []
    assert report_chart.rate_series([], [{**_claim(30), "sources": []}]) == []
    assert report_chart.rate_series([_fact(145, at="undated")], []) == []


def test_news_volume_counts_stories_per_monday_week() -> None:
    stories = [{"published": "2025-05-12T00:00:00Z"}, {"published": "2025-05-18T23:59:00Z"},
               {"published": "2025-05-19T08:00:00Z"}, {"published": "not a date"}, {}]
    assert report_chart.weekly_volume(stories) == [
        {"start": "2025-05-12T00:00:00.000000Z", "count": 2},
        {"start": "2025-05-19T00:00:00.000000Z", "count": 1}]


def test_a_chart_with_nothing_dated_says_so() -> None:
    chart = report_chart.chart([], [], [])
    drawn = svg.timeline_svg(chart)
    assert "Nothing dated to draw yet." in drawn and drawn.startswith("<svg")


def test_chart_text_from_the_record_is_escaped() -> None:
    mark = {"n": 1, "title": "</title><script>x</script>", "label": "2025-04",
            "at": "2025-04-01T00:00:00Z", "until": "2025-05-01T00:00:00Z"}
    drawn = svg.timeline_svg(report_chart.chart([mark], [], []), title="<b>")
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    assert "<b>" not in drawn


def test_the_axis_ticks_suit_the_span() -> None:
    from datetime import UTC, datetime

    weeks = svg._ticks(datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 6, 10, tzinfo=UTC))
    assert [label for _t, label in weeks][:2] == ["5 May", "12 May"]
    months = svg._ticks(datetime(2025, 3, 20, tzinfo=UTC), datetime(2025, 8, 2, tzinfo=UTC))
    assert [label for _t, label in months] == ["Apr 2025", "May", "Jun", "Jul", "Aug"]
    years = svg._ticks(datetime(2001, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert len(years) <= 13 and years[-1][1] == "2025"


def test_an_empty_site_still_has_a_valid_feed() -> None:
    site = {"position": 0, "as_of": None, "world_as_of": None, "policy": None,
            "policies": [], "stories": [], "changes": []}
    files = html.render_site(site)
    assert sorted(files) == ["changes.xml", "index.html", "stories/index.html"]
    feed = feedparser.parse(files["changes.xml"])
    assert feed.bozo is False and feed.entries == []
    assert b"No policy is tracked" in files["index.html"]


def test_characters_xml_cannot_hold_are_dropped_from_the_feed() -> None:
    change = {"id": "urn:uuid:0", "policy_id": "p", "policy_title": "T\x00\x1b", "kind": "fact",
              "key": "purpose", "value": "a\x07b", "world": "2025", "precision": "year",
              "position": 1, "recorded_at": "2026-01-01T00:00:00Z", "decided_by": None,
              "sources": [{"position": 1, "publication": "P\x0c", "tier": "press",
                           "url": "javascript:x", "title": "t"}]}
    site = {"position": 1, "as_of": None, "world_as_of": None, "policy": None,
            "policies": [], "stories": [], "changes": [change]}
    feed = feedparser.parse(html.atom(site))
    assert feed.bozo is False
    assert feed.entries[0].title == "purpose: ab"
    assert not [link for link in feed.entries[0].links if link.rel == "related"]


# -- publish ------------------------------------------------------------------------------------


def test_publish_replaces_an_earlier_report_whole(tmp_path: Path) -> None:
    out = tmp_path / "site"
    report_publish.publish({"index.html": b"one", "stories/a.html": b"a"}, out)
    report_publish.publish({"index.html": b"two"}, out)

    assert (out / "index.html").read_bytes() == b"two"
    assert not (out / "stories").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_publish_into_an_empty_directory(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    report_publish.publish({"index.html": b"x"}, out)
    assert (out / "index.html").read_bytes() == b"x"


def test_a_failed_write_leaves_the_earlier_report_and_no_debris(tmp_path: Path,
                                                                monkeypatch) -> None:
    out = tmp_path / "site"
    report_publish.publish({"index.html": b"one"}, out)

    def fail(path: str, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_publish, "_write", fail)
    with pytest.raises(UsageError, match="No space left on device"):
        report_publish.publish({"index.html": b"two"}, out)
    monkeypatch.undo()
    assert (out / "index.html").read_bytes() == b"one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
