"""Reports from projection documents, and their text, Markdown and JSON renderings."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.events import (
    POLICY,
    by_key,
    claim,
    more,
    news,
    retraction,
    seed_events,
    story_created,
)
from tests.support.markdown import as_read
from tracker.claim_state import settle
from tracker.claims import AcceptancePolicy
from tracker.events import RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.fold import fold_all as replay
from tracker.render import Format
from tracker.render import output as render
from tracker.render.facts import describe, marker
from tracker.reports import diff_report, status_report, timeline_report

MARKER = re.compile(r"\[#\d+(?: ¶\d+)?(?:, #\d+(?: ¶\d+)?)*\]")


def report_for(events: list[RecordedEvent], world_as_of: str | None = None) -> dict[str, Any]:
    policies = replay(PROJECTIONS["policy_state"], events)
    actors = replay(PROJECTIONS["actors"], events)
    settled = {pid: settle(doc, {}, AcceptancePolicy("test-1")) for pid, doc in policies.items()}
    return status_report(list(policies.values()), actors, position=events[-1].position,
                         as_of=None, world_as_of=world_as_of, settled=settled)


def test_status_report_json_contract() -> None:
    report = report_for(seed_events())
    assert isinstance(report["position"], int)
    assert report["as_of"] is None
    assert isinstance(report["policies"], list) and len(report["policies"]) == 1
    p = report["policies"][0]
    assert p["id"] == POLICY
    assert isinstance(p["title"], str)
    assert p["status"] == "announced"
    assert p["parties"] == ["HKSAR Government", "Zhejiang provincial government"]
    assert isinstance(p["open_questions"], list) and len(p["open_questions"]) == 1
    assert isinstance(p["updated_at"], str)
    assert isinstance(p["facts"], list)
    for fact in p["facts"]:
        assert isinstance(fact["key"], str)
        assert "value" in fact
        assert fact["sources"]
        for source in fact["sources"]:
            assert isinstance(source["position"], int)
            assert isinstance(source["citation"], dict)
    keys = [f["key"] for f in p["facts"]]
    assert keys[:3] == ["purpose", "announced_venue", "announced_at"]
    for key in ("sectors", "agreement.visit-project-agreements", "context.tariffs.us-tariffs-china",
                "context.export_controls.us-nvidia-export-ban-2022"):
        assert key in keys
    json.dumps(report, ensure_ascii=False)


def _lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def _fact_block(text: str, needle: str) -> str:
    """The wrapped lines of the entry containing ``needle``, joined, up to its marker."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if needle in line:
            block = line
            j = i
            while not MARKER.search(block) and j + 1 < len(lines):
                j += 1
                block += " " + lines[j].strip()
            return block
    raise AssertionError(f"{needle!r} not rendered")


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_rendered_status_shows_each_fact_with_a_source_marker(fmt: Format) -> None:
    text = render(report_for(seed_events()), "status", fmt)
    if fmt == "markdown":
        text = as_read(text)  # what a reader sees: punctuation from the log is escaped
    for needle in ("HKSAR Government", "Zhejiang provincial government",
                   "Supply-chain services tailored to mainland companies", "more than 50 projects",
                   "technological innovation, trade, housing", "up to 145%",
                   "US export bans on advanced Nvidia chips",
                   "Recent tightening of US curbs on certain Nvidia chips",
                   "smart, prudent and proactive response"):
        assert MARKER.search(_fact_block(text, needle)), needle
    assert "Sources" in text and "seed-000" in text
    assert "Seed article (publication not named in the text)" in text
    if fmt == "markdown":
        assert text.startswith("# Policy status")
        assert "\n## Sources\n" in text and "\n### Facts\n" in text


def test_rendered_json_is_the_report() -> None:
    report = report_for(seed_events())
    text = render(report, "status", "json")
    assert json.loads(text) == report
    assert "Hong Kong–Zhejiang" in text
    for needle in ("HKSAR Government", "145", "more_than", "Nvidia", "housing"):
        assert needle in text


def test_world_as_of_report_has_context_only() -> None:
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    events = [e for e in seed_events() if e.occurred_until <= cutoff]
    report = report_for(events, world_as_of="2024-12-31")
    p = report["policies"][0]
    assert p["title"] is None and p["status"] is None and p["parties"] == []
    assert {f["key"].split(".")[1] for f in p["facts"]} == {
        "export_controls", "trade_status", "capital_flows"}
    text = render(report, "status", "text")
    assert "world as of 2024-12-31" in text and "(not yet tracked at this date)" in text
    assert "agreement" not in text


def test_diff_report_added_changed_retracted() -> None:
    events = seed_events()
    cutoff = datetime(2025, 1, 1, tzinfo=UTC)
    early = report_for([e for e in events if e.occurred_until <= cutoff])
    full = report_for(events)
    diff = diff_report(early, full)
    policy = diff["policies"][0]
    assert policy["status"]["before"] is None and policy["status"]["after"] == "announced"
    added = {f["key"] for f in policy["added"]}
    assert {"purpose", "agreement.visit-project-agreements",
            "context.tariffs.us-tariffs-china"} <= added
    assert all(f["sources"] for f in policy["added"])
    assert [q["id"] for q in policy["questions_opened"]] == ["startup-cooperation-details"]

    target = by_key(events, "agreement-projects").position
    later = more(events, news("tariff_rate", {"value": 30}),
                 claim("tariff_rate", {"value": 30}, slot="tariff:us:china", claim_value=30),
                 retraction(target))
    diff = diff_report(full, report_for(later))
    policy = diff["policies"][0]
    assert [f["key"] for f in policy["retracted"]] == ["agreement.visit-project-agreements"]
    assert policy["retracted"][0]["sources"][0]["position"] == target
    changed = {f["key"]: f for f in policy["changed"]}
    tariff = changed["context.tariffs.us-tariffs-china"]
    assert (tariff["before"]["value"], tariff["after"]["value"]) == (145, 30)
    assert tariff["sources"][0]["citation"]["story_id"] == "story-1"
    text = render(diff, "diff", "text")
    assert "145% → 30%" in text and "(withdrawn)" in text and MARKER.search(text)
    assert "## " in render(diff, "diff", "markdown")
    assert diff_report(full, full)["policies"] == []
    assert "no changes" in render(diff_report(full, full), "diff", "text")


def test_timeline_report_filters_by_overlapping_periods() -> None:
    entries = list(replay(PROJECTIONS["timeline"], seed_events()).values())
    everything = timeline_report(entries, None, None)
    assert everything["count"] == len(entries)
    assert everything["entries"][0]["occurred_at"] == "undated"  # background first
    late_april = timeline_report(entries, "2025-04-20", "2025-04-30")
    assert late_april["count"] > 0
    assert {e["occurred_at"] for e in late_april["entries"]} <= {"2025-04", "2025"}
    before = timeline_report(entries, None, "2024")
    assert {e["occurred_at"] for e in before["entries"]} == {"undated", "2022"}
    # a window with a start leaves undated background out: it cannot be placed after anything
    assert "undated" not in {e["occurred_at"] for e in late_april["entries"]}
    text = render(before, "timeline", "text")
    assert "2022" in text and MARKER.search(text) and "Sources" in text
    assert render(before, "timeline", "markdown").startswith("# Timeline")


def test_markers_and_descriptions() -> None:
    assert marker([{"position": 12, "citation": {"paragraph": 3}},
                   {"position": 40, "citation": {"story_id": "s"}}]) == "[#12 ¶3, #40]"
    assert marker([]) == ""
    assert describe("context.tariffs.x", {"title": "T", "value": 30, "unit": "percent"}) == "T: 30%"
    assert describe("agreement.x", {"title": "A", "project_count": 5,
                                    "count_qualifier": "exactly"}) == "A; 5 projects"
    assert describe("sectors", ["a", "b"]) == "a, b"
    with pytest.raises(ValueError):
        render({}, "status", "yaml")  # type: ignore[arg-type]


def test_follow_up_stories_are_listed_with_their_source() -> None:
    events = more(seed_events(), story_created(3))
    report = report_for(events)
    stories = report["policies"][0]["follow_ups"]["stories"]
    assert stories[0]["story_id"] == "s3"
    text = render(report, "status", "text")
    assert _lines_with(text, "Story 3") and "https://news.example/3" in text
    assert "[Story 3](<https://news.example/3>)" in render(report, "status", "markdown")
