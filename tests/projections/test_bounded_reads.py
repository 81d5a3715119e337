"""`news` and `timeline` read only the rows a window needs (issue 14), and show exactly what
reading every document and filtering in Python showed: compared here with that algorithm, kept
as a reference, on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import tracker.projector as projector_module
from tests.support.cli import ok
from tests.support.clock import FakeClock
from tracker.app import Tracker, open_tracker
from tracker.dates import UNDATED_AT, iso
from tracker.dossier import labelled, projector, timeline
from tracker.events import NewEvent
from tracker.ingest.decide import story_stream
from tracker.lookup import short_ids
from tracker.news import STORIES, _policies, _published_within, distinct_facts, news
from tracker.projections.stories import combined
from tracker.projector import load_docs
from tracker.reports import timeline_report
from tracker.story_identity import STORY_PREFIX, story_docs
from tracker.when import When, parse_when

NOW = datetime(2027, 1, 1, tzinfo=UTC)
HK = ZoneInfo("Asia/Hong_Kong")
AT = datetime(2025, 7, 10, tzinfo=UTC)

#: Publication dates: boundary instants in UTC and Hong Kong, other offsets, naive, compact and
#: odd forms, none at all, and a spread across the months around July 2025.
PUBLISHED: list[str | None] = [
    "2025-06-30T15:59:59.999999Z", "2025-06-30T16:00:00.000000Z", "2025-06-30T23:59:59.999999Z",
    "2025-07-01T00:00:00.000000Z", "2025-07-31T15:59:59.999999Z", "2025-07-31T16:00:00.000000Z",
    "2025-07-31T23:59:59.999999Z", "2025-08-01T00:00:00.000000Z",
    "2025-07-01T07:00:00+08:00", "2025-07-31T20:00:00-05:00", "2025-08-01T01:00:00+08:00",
    "2025-07-15T12:00:00", "20250716T120000Z", "2025-07-17", None, "", "soon",
    *(f"2025-{month:02d}-{day:02d}T{hour:02d}:30:00.000000Z"
      for month in (5, 6, 7, 8, 9) for day in (1, 14, 28) for hour in (3, 20)),
    "2024-07-10T00:00:00.000000Z", "2026-07-10T00:00:00.000000Z",
]

#: Story pairs an analyst merged (kept, merged), by index into PUBLISHED: chains (3 -> 20 ->
#: 40, 41 -> 42 -> 43), a merged story outside the window kept inside (19 -> 4) and the
#: reverse (5 -> 18 and 6 -> 7), both inside (11 -> 10), a story without a date kept (14 -> 8).
MERGES = [(20, 3), (40, 20), (42, 41), (43, 42), (4, 19), (18, 5), (7, 6), (10, 11), (8, 14)]
#: Items split out (from story, new story published): in the window to outside, the reverse,
#: and one out of a story later merged.
SPLITS = [(4, "2025-09-02T00:00:00.000000Z"), (24, "2025-07-20T10:00:00.000000Z"),
          (20, "2025-07-05T00:00:00.000000Z")]


def sid(n: int) -> str:
    return f"st-{n:04d}{'ab' if n % 2 else 'ac'}"


def build(t: Tracker) -> None:
    """Stories with sources from two feeds and facts about two dossiers, merges and splits,
    and dossier entries at every precision (the stories and facts are timeline entries too)."""
    for n, published in enumerate(PUBLISHED):
        story = sid(n)
        events = [NewEvent("story.created", {
            "story_id": story, "title": f"Story {n}", "url": f"https://a.example/{n}",
            "published": published, "item_key": f"a:{n}", "feed": "fa",
            "policy_ids": ["p1"] if n % 3 else ["p2"]}, AT + timedelta(hours=n))]
        if n % 4 == 0:
            events.append(NewEvent("story.corroborated", {
                "story_id": story, "item_key": f"b:{n}", "feed": "fb",
                "link": f"https://b.example/{n}", "title": f"Story {n} again",
                "policy_ids": ["p2"]}, AT + timedelta(hours=n, minutes=5)))
        for i, item in enumerate([f"a:{n}", f"b:{n}"] if n % 4 == 0 else [f"a:{n}"]):
            events.append(NewEvent("fact.extracted", {
                "story_id": story, "policy_id": "p1", "kind": "project_count",
                "value": {"count": n + i}, "sentence": f"Fact {n}/{i}.", "confidence": 0.9,
                "item_key": item}, AT + timedelta(days=n % 40, minutes=i), "day",
                schema_version=2))
        t.store.append(story_stream(story), events)
    for n, (from_n, new_published) in enumerate(SPLITS):
        holder = sid(from_n)
        t.store.append(story_stream(holder), [NewEvent("story.split", {
            "story_id": holder, "item_key": f"b:{from_n}", "new_story_id": sid(900 + n),
            "feed": "fb", "link": f"https://b.example/{from_n}", "title": "Split out",
            "published": new_published}, AT)])
    for kept, merged in MERGES:
        t.store.append(story_stream(sid(kept)), [NewEvent("story.merged", {
            "story_id": sid(kept), "merged_id": sid(merged)}, AT)])
    dated = [(datetime(2025, 6, 30, 16, tzinfo=UTC), "instant"),
             (datetime(2025, 7, 31, 23, 59, tzinfo=UTC), "instant"),
             (datetime(2025, 8, 1, tzinfo=UTC), "instant"),
             *((datetime(2025, m, d, tzinfo=UTC), "day") for m, d in
               ((6, 29), (6, 30), (7, 1), (7, 31), (8, 1), (8, 2))),
             *((datetime(2025, m, 1, tzinfo=UTC), "month") for m in (5, 6, 7, 8)),
             *((datetime(y, 1, 1, tzinfo=UTC), "year") for y in (2023, 2024, 2025, 2026)),
             (UNDATED_AT, "undated"), (datetime(2024, 12, 1, tzinfo=UTC), "month")]
    t.store.append("dossier:p1", [NewEvent("milestone.recorded", {
        "policy_id": "p1", "milestone_id": f"m{i}", "kind": "meeting",
        "title": f"Milestone {i} ({precision})"},
        at, precision) for i, (at, precision) in enumerate(dated)])


@pytest.fixture
def tracker(db_url: str) -> Iterator[Tracker]:
    t = open_tracker(db_url, FakeClock(NOW))
    build(t)
    yield t
    t.close()


def old_news(t: Tracker, *, since: When | None = None, limit: int | None = None,
             feed: str | None = None, policy: str | None = None,
             until: When | None = None) -> dict[str, Any]:
    """`news` as it was before issue 14: every document read, filtered in Python."""
    all_docs = story_docs(t)
    shown = combined(all_docs)
    short = short_ids(all_docs, id_prefix=STORY_PREFIX)
    ordered = sorted((STORIES.sort_key(key, doc), doc) for key, doc in shown.items())
    docs = [doc for _k, doc in reversed(ordered) if _published_within(doc, since, until)]
    if feed is not None:
        docs = [d for d in docs if any(s.get("feed") == feed for s in d.get("sources", []))]
    if policy is not None:
        docs = [d for d in docs if policy in _policies(d)]
    stories = [{
        "id": d.get("story_id"), "short_id": short.get(str(d.get("story_id")),
                                                       d.get("story_id")),
        "title": d.get("title"), "url": d.get("url"), "published": d.get("published"),
        "published_source": d.get("published_source") or "feed", "score": d.get("score"),
        "policies": _policies(d), "matched": d.get("matched", []),
        "sources": [{"feed": s.get("feed"), "link": s.get("link"), "title": s.get("title"),
                     "position": s.get("position")} for s in d.get("sources", [])],
        "facts": distinct_facts(d.get("facts", [])), "revisions": len(d.get("revisions", [])),
        "position": d.get("position"),
    } for d in (docs if limit is None else docs[:limit])]
    report = {"since": iso(since.start) if since else None,
              "until": iso(until.before) if until else None, "feed": feed, "policy": policy,
              "limit": limit, "count": len(stories), "total": len(docs), "stories": stories}
    return labelled(report, since=since.as_lower() if since else None, until=until)


def old_timeline(t: Tracker, *, since: When | None = None,
                 until: When | None = None) -> dict[str, Any]:
    """`timeline` as it was before issue 14."""
    projector(t).catch_up(["timeline"])
    entries = [doc for _key, doc in load_docs(t.engine, "timeline")]
    bound = since or until
    report = timeline_report(entries, iso(since.start) if since else None,
                             iso(until.before) if until else None,
                             zone=bound.zone if bound is not None else None)
    report["since"], report["until"] = (since.text if since else None,
                                        until.text if until else None)
    return labelled(report, since=since.as_lower() if since else None, until=until)


WINDOWS = [("2025-07", "2025-07"), ("2025-07-01", None), (None, "2025-07"), (None, None),
           ("2025-07-31", "2025-08-01"), ("2025", "2025"), ("2025-06-30T16:00Z", "2025-07-02"),
           ("2026-01", None), ("2024-06", "2024-07"), ("1900", "1900")]


def when(text: str | None, zone: Any) -> When | None:
    return parse_when(text, NOW, zone) if text else None


@pytest.mark.parametrize("zone", [UTC, HK], ids=["utc", "hk"])
def test_news_and_timeline_match_the_full_read(tracker: Tracker, zone: Any) -> None:
    for since_text, until_text in WINDOWS:
        since, until = when(since_text, zone), when(until_text, zone)
        for options in ({}, {"limit": 3}, {"feed": "fb"}, {"policy": "p2", "limit": 2},
                        {"feed": "fa", "policy": "p1"}, {"limit": 0}):
            got = news(tracker, since=since, until=until, **options)  # type: ignore[arg-type]
            assert got == old_news(tracker, since=since, until=until,
                                   **options), (since_text, until_text, options)
        assert timeline(tracker, since=since, until=until) == old_timeline(
            tracker, since=since, until=until), (since_text, until_text)


def test_the_july_window_sees_merges_and_splits_across_its_edges(tracker: Tracker) -> None:
    july = when("2025-07", UTC)
    shown = {s["id"]: s for s in news(tracker, since=july, until=july)["stories"]}
    assert sid(3) not in shown and sid(40) not in shown  # merged, or kept outside July
    assert {s["link"] for s in shown[sid(4)]["sources"]} >= {"https://a.example/19"}
    assert sid(5) not in shown and sid(6) not in shown and sid(7) not in shown
    assert sid(10) in shown and sid(11) not in shown
    assert any(f["value"] == {"count": 25} for f in shown[sid(901)]["facts"])  # split in
    assert not any(f["value"] == {"count": 5} for f in shown[sid(4)]["facts"])  # split out


def test_docs_outside_the_window_are_never_decoded(tracker: Tracker,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the window's documents (and stories a merge or split touched) are decoded; the full
    read decoded every one, so this fails on it."""
    july = when("2025-07", HK)
    news(tracker, since=july, until=july)
    timeline(tracker, since=july, until=july)  # caught up: nothing decoded by the projector
    decoded: list[Any] = []

    def counting(real: Any) -> Any:
        def decode(value: Any) -> Any:
            doc = real(value)
            decoded.append(doc)
            return doc
        return decode

    for name in ("load_json", "decode_object"):  # every way the projector decodes a document
        monkeypatch.setattr(projector_module, name, counting(getattr(projector_module, name)))
    report = news(tracker, since=july, until=july)
    assert decoded  # the window's documents were decoded, and counted
    corrected = {sid(n) for pair in MERGES for n in pair} | {sid(n) for n, _p in SPLITS}
    stories = {str(d.get("story_id")) for d in decoded}
    outside = {sid(n) for n, p in enumerate(PUBLISHED)
               if p and p.startswith(("2025-05", "2025-09", "2024", "2026"))} - corrected
    assert outside and not stories & outside
    assert len(decoded) <= len(PUBLISHED) + len(SPLITS) - len(outside)
    assert report["total"] > 10

    decoded.clear()
    latest = news(tracker, limit=2)  # no window: the two latest, and the corrected stories
    assert latest["count"] == 2 and latest["total"] == len(PUBLISHED) + len(SPLITS) - len(
        MERGES)
    assert not {str(d.get("story_id")) for d in decoded} - corrected - {
        s["id"] for s in latest["stories"]}

    everything = len(load_docs(tracker.engine, "timeline"))
    decoded.clear()
    entries = timeline(tracker, since=july, until=july)["entries"]
    starts = {str(d["occurred_start"])[:10] for d in decoded}
    assert entries and len(decoded) < everything
    assert {"2025-01-01", "2025-06-01"} <= starts  # a year, a month lasting into July
    assert not starts & {"1900-01-01", "2023-01-01", "2024-01-01", "2024-12-01", "2025-05-01"}
    assert not [s for s in starts if s < "2025-06-28" and not s.endswith("-01")]
    assert max(starts) < "2025-08-03"


@pytest.mark.parametrize("command", ["news", "timeline"])
def test_the_cli_in_hong_kong_shows_what_the_full_read_showed(db_url: str, command: str,
                                                              monkeypatch) -> None:
    t = open_tracker(db_url, FakeClock(NOW))
    build(t)
    since, until = when("2025-07-01", HK), when("2025-07-31", HK)
    expected = (old_news if command == "news" else old_timeline)(t, since=since, until=until)
    t.close()
    out = json.loads(ok(db_url, "--tz", "Asia/Hong_Kong", command, "--since", "2025-07-01",
                        "--until", "2025-07-31", "--format", "json").stdout)
    key = "stories" if command == "news" else "entries"
    assert [e.get("id") or e.get("position") for e in out[key]] == [
        e.get("id") or e.get("position") for e in expected[key]]
