"""A dossier log for the report tests: the packaged seeds, then news recorded a day later —
an official claim cutting the US tariff on Chinese goods from 145% to 30% as of 14 May 2025,
a story two feeds carried, and a story whose every field a hostile feed wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import ok
from tests.support.clock import FakeClock
from tests.support.events import POLICY, claim
from tracker.app import open_tracker
from tracker.dossier import load_seeds
from tracker.events import NewEvent
from tracker.feeds import add_feed

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
NEWS_AT = datetime(2026, 1, 2, tzinfo=UTC)
#: Between the seeds and the news, on the recorded-time axis.
BEFORE_NEWS = "2026-01-01T12:00Z"
MAY_14 = datetime(2025, 5, 14, tzinfo=UTC)
TARIFF_STORY = {"story_id": "st-tariff000001", "title": "US cuts tariff on Chinese goods to 30%",
                "url": "https://www.info.gov.hk/gia/general/202505/14/tariff.htm"}
#: A title that would run script in any page that wrote it as markup.
EVIL_TITLE = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
EVIL_ID = "../../evil<script>"


@dataclass(frozen=True, slots=True)
class Log:
    url: str
    tariff_position: int


def _story(story_id: str, title: str, url: str, feed: str, published: str) -> NewEvent:
    return NewEvent("story.created", {
        "story_id": story_id, "title": title, "url": url, "published": published,
        "published_source": "feed", "item_key": f"guid:{story_id}", "feed": feed,
        "policy_ids": [POLICY], "summary": title, "score": 9, "matched": ["tariff"]},
        datetime.fromisoformat(published.replace("Z", "+00:00")), "instant",
        meta={"source": {"feed": feed, "url": url}})


def news_events() -> list[NewEvent]:
    tariff = claim("tariff_rate", {"value": 30}, slot="tariff:us:china", claim_value=30,
                   claim_id="tariff-cut", as_of=MAY_14, story=TARIFF_STORY,
                   publisher="HKSAR Government", tier="official")
    return [
        _story(TARIFF_STORY["story_id"], TARIFF_STORY["title"], TARIFF_STORY["url"],
               "hksar-government", "2025-05-14T08:00:00Z"),
        NewEvent("story.corroborated", {
            "story_id": TARIFF_STORY["story_id"], "item_key": "guid:wire-1", "feed": "wire",
            "link": "https://wire.example/tariff-30", "title": "Tariff falls to 30%",
            "similarity": 0.9, "reason": "title", "policy_ids": [POLICY]},
            datetime(2025, 5, 14, 9, tzinfo=UTC), "instant"),
        tariff,
        _story(EVIL_ID, EVIL_TITLE, "javascript:document.title='pwned'", "evil-feed",
               "2025-05-20T00:00:00Z"),
        NewEvent("story.corroborated", {
            "story_id": EVIL_ID, "item_key": "guid:evil-2", "feed": "evil-feed",
            "link": " JaVaScRiPt:alert(1)", "title": "\"><svg onload=alert(2)>",
            "similarity": 1.0, "reason": "title", "policy_ids": [POLICY]},
            datetime(2025, 5, 20, 1, tzinfo=UTC), "instant"),
        NewEvent("fact.extracted", {
            "story_id": EVIL_ID, "policy_id": POLICY, "kind": "mechanism_status",
            "value": {"status": "<b onmouseover=alert(3)>launched</b>"},
            "sentence": "<iframe src=\"https://evil.example/\"></iframe>", "confidence": 0.5,
            "item_key": "guid:evil-2"}, datetime(2025, 5, 20, tzinfo=UTC), "day",
            meta={"source": {"feed": "evil-feed"}}),
    ]


@pytest.fixture
def report_log(sqlite_url: str) -> Log:
    """The log on SQLite (see the module docstring)."""
    return build(sqlite_url)


def build(url: str) -> Log:
    clock = FakeClock(SEEDED_AT)
    tracker = open_tracker(url, clock)
    try:
        load_seeds(tracker)
        clock.now = NEWS_AT
        add_feed(tracker, "hksar-government", "https://www.info.gov.hk/gia/rss.xml",
                 publisher="HKSAR Government", tier="official")
        recorded = tracker.store.append("news", news_events())
        [tariff] = [e.position for e in recorded if e.data.get("claim_id") == "tariff-cut"]
        return Log(url, tariff)
    finally:
        tracker.close()


def report(url: str, out: Path, *args: str) -> Path:
    """``tracker report -o out ...``, which must succeed; the directory written."""
    ok(url, "report", "--format", "html", "-o", str(out), *args)
    return out
