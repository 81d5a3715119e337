"""Time on the command line, on SQLite and PostgreSQL (click's CliRunner): one WHEN grammar and
one duration grammar for every option, lower bounds at the start of their period, upper bounds
at its end and never later than now, periods read and times shown in the user's zone, labels
that say what a bound means, and no microseconds anywhere in text.

The CLI's clock is the injected one (``tests.support.clock.FakeClock``): ``now`` is fixed, with
microseconds, so a leak would show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.support.cli import cli, ok, one_line_error
from tests.support.clock import FakeClock
from tests.support.events import claim
from tests.support.paths import ROOT
from tracker import app
from tracker.dates import iso
from tracker.dossier import load_seeds
from tracker.errors import EXIT_USAGE
from tracker.events import NewEvent

#: Monday 5 May 2025, 10:00:00.123456 UTC: 18:00 in Hong Kong.
NOW = datetime(2025, 5, 5, 10, 0, 0, 123456, tzinfo=UTC)
#: When the seeds were recorded: the Friday before.
SEEDED = datetime(2025, 5, 2, 8, 30, 15, 654321, tzinfo=UTC)
#: Saturday 3 May, 07:00 in Hong Kong: still Friday in UTC.
SATURDAY_MORNING_HK = datetime(2025, 5, 2, 23, 0, tzinfo=UTC)
#: Saturday 3 May, 17:00 UTC: already Sunday in Hong Kong.
SATURDAY_EVENING_UTC = datetime(2025, 5, 3, 17, 0, tzinfo=UTC)
HK = "Asia/Hong_Kong"
#: A time with a fraction of a second, as text.
MICROSECONDS = re.compile(r"\d:\d\d[.,]\d|\.\d{6}")


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """The clock every tracker the CLI opens runs on."""
    fake = FakeClock(NOW)
    real = app.open_tracker

    def opened(url: str, *_args: Any, **kwargs: Any) -> app.Tracker:
        return real(url, fake, **kwargs)

    monkeypatch.setattr(app, "open_tracker", opened)
    return fake


def story(story_id: str, title: str, published: datetime) -> NewEvent:
    return NewEvent("story.created", {
        "story_id": story_id, "title": title, "url": f"https://news.example/{story_id}",
        "published": iso(published), "published_source": "feed", "item_key": f"guid:{story_id}",
        "feed": "wire", "policy_ids": ["hk-zhejiang-supply-chain"], "score": 7,
        "matched": ["Zhejiang"]}, published, "instant")


@pytest.fixture
def url(db_url: str) -> Iterator[str]:
    """The packaged dossier recorded on Friday; today (Monday) at 09:00 the log learnt of an
    official count of 40 firms served as at 08:30, and of two stories published over the
    weekend."""
    recording = FakeClock(SEEDED)
    tracker = app.open_tracker(db_url, recording)
    load_seeds(tracker)
    recording.now = datetime(2025, 5, 5, 9, 0, 0, 500000, tzinfo=UTC)
    tracker.store.append("news", [
        claim("mechanism_status", {"firms": 40}, slot="firms_served", claim_value=40,
              claim_id="forty", as_of=datetime(2025, 5, 5, 8, 30, tzinfo=UTC),
              precision="instant"),
        story("st-saturday-hk", "Zhejiang firms sign up on Saturday morning",
              SATURDAY_MORNING_HK),
        story("st-saturday-utc", "Zhejiang firms sign up on Saturday evening",
              SATURDAY_EVENING_UTC)])
    tracker.close()
    yield db_url


def as_json(url: str, *args: str) -> Any:
    return json.loads(ok(url, *args, "--format", "json").stdout)


def served(report: dict[str, Any]) -> Any:
    [policy] = report["policies"]
    found = [f for f in policy["facts"] if f.get("slot") == "firms_served"
             or f["key"].endswith("firms_served")]
    return found[0]["value"] if found else None


def first_line(result: Result) -> str:
    return result.stdout.splitlines()[0]


# -- today is the day so far --------------------------------------------------------------------

def test_diff_since_today_shows_todays_changes(url, clock) -> None:
    """The log learnt of 40 firms today (09:00) and the count held for today (08:30)."""
    recorded = as_json(url, "diff", "--recorded-since", "today")
    assert recorded["before"]["as_of_label"] == "start of 2025-05-05 (00:00 UTC)"
    assert recorded["policies"], recorded
    text = ok(url, "diff", "--recorded-since", "today").stdout
    assert "no changes" not in text and "40" in text
    # in the world, the count is what happened today
    world = ok(url, "diff", "--since", "today").stdout
    assert "no changes" not in world and "40" in world
    assert "world as of start of 2025-05-05 (00:00 UTC)" in first_line(
        ok(url, "diff", "--since", "today"))
    # nothing was learnt or happened since the start of this minute
    assert "no changes" in ok(url, "diff", "--recorded-since", "2025-05-05T10:00").stdout
    assert "no changes" in ok(url, "diff", "--since", "2025-05-05T10:00").stdout


def test_diff_since_yesterday_until_yesterday_is_a_day_of_the_world(url, clock) -> None:
    assert "no changes" in ok(url, "diff", "--since", "yesterday", "--until",
                              "yesterday").stdout
    report = as_json(url, "diff", "--since", "yesterday", "--until", "today")
    assert report["after"]["world_as_of_label"] == "2025-05-05 10:00:00 UTC"
    assert report["policies"]


def test_status_as_of_today_labels_today(url, clock) -> None:
    head = first_line(ok(url, "status", "--as-of", "today"))
    assert "as of 2025-05-05 10:00:00 UTC" in head and "2025-05-06" not in head
    hk = first_line(ok(url, "--tz", HK, "status", "--as-of", "today"))
    assert "as of 2025-05-05 18:00:00 HKT" in hk
    report = as_json(url, "status", "--as-of", "today")
    assert report["as_of"] <= iso(NOW)  # never later than now
    assert served(report) == 40  # what the log knew today includes this morning


def test_world_as_of_2024_says_end_of_2024(url, clock) -> None:
    head = first_line(ok(url, "status", "--world-as-of", "2024"))
    assert "world as of end of 2024 (2024-12-31 23:59 UTC)" in head
    assert "2025-01-01" not in head
    hk = first_line(ok(url, "--tz", HK, "status", "--world-as-of", "2024"))
    assert "world as of end of 2024 (2024-12-31 23:59 HKT)" in hk
    # --until is the same bound (world time) under the name every command gives it
    assert first_line(ok(url, "status", "--until", "2024")) == head
    report = as_json(url, "status", "--world-as-of", "2024")
    assert report["world_as_of_label"] == "end of 2024 (2024-12-31 23:59 UTC)"


def test_upper_bounds_are_never_later_than_now(url, clock) -> None:
    for option in ("--as-of", "--world-as-of"):
        for when in ("2030", "2025", "2025-05", "today", "now", "2200-12-31"):
            report = as_json(url, "status", option, when)
            bound = report["as_of"] if option == "--as-of" else report["world_as_of"]
            assert bound <= iso(NOW.replace(microsecond=NOW.microsecond + 1)), (option, when)
            label = report["as_of_label" if option == "--as-of" else "world_as_of_label"]
            assert label == "2025-05-05 10:00:00 UTC", (option, when)
    clock.advance(days=1)  # tomorrow, today has ended: its end is midnight
    report = as_json(url, "status", "--as-of", "2025-05-05")
    assert report["as_of_label"] == "end of 2025-05-05 (23:59 UTC)"


def test_a_month_dated_in_the_record_has_happened_by_the_end_of_that_month_anywhere(
        url, clock) -> None:
    """The seed dates the agreement "2025-04": read in Hong Kong or in Honolulu, it has
    happened by the end of April there, not a day later or sooner."""
    for zone in ("UTC", HK, "Pacific/Honolulu"):
        april = as_json(url, "--tz", zone, "status", "--world-as-of", "2025-04")
        march = as_json(url, "--tz", zone, "status", "--world-as-of", "2025-04-29")
        keys = {f["key"] for f in april["policies"][0]["facts"]}
        early = {f["key"] for f in march["policies"][0]["facts"]}
        assert any(k.startswith("agreement.") for k in keys), zone
        assert not any(k.startswith("agreement.") for k in early), zone
        timeline = as_json(url, "--tz", zone, "timeline", "--since", "2025-04", "--until",
                           "2025-04")
        assert timeline["count"] > 0 and all(
            e["occurred_at"].startswith("2025-04") or e["precision"] == "instant"
            for e in timeline["entries"]), zone


# -- news in the reader's zone ------------------------------------------------------------------

def test_news_since_saturday_in_hong_kong_finds_saturday_morning_there(url, clock) -> None:
    hk = as_json(url, "--tz", HK, "news", "--since", "2025-05-03")
    assert [s["id"] for s in hk["stories"]] == ["st-saturday-utc", "st-saturday-hk"]
    saturday = as_json(url, "--tz", HK, "news", "--since", "2025-05-03", "--until",
                       "2025-05-03")
    assert [s["id"] for s in saturday["stories"]] == ["st-saturday-hk"]
    # in UTC that story was published on Friday
    utc = as_json(url, "--tz", "UTC", "news", "--since", "2025-05-03", "--until", "2025-05-03")
    assert [s["id"] for s in utc["stories"]] == ["st-saturday-utc"]
    text = ok(url, "--tz", HK, "news", "--since", "2025-05-03").stdout
    assert "2025-05-03" in text and "2025-05-02" not in text  # shown on its Hong Kong day
    assert "since start of 2025-05-03 (00:00 HKT)" in text


def test_tracker_tz_in_the_environment_and_the_flag_over_it(url, clock, monkeypatch) -> None:
    by_flag = ok(url, "--tz", HK, "news", "--since", "2025-05-03").stdout
    monkeypatch.setenv("TRACKER_TZ", HK)
    assert ok(url, "news", "--since", "2025-05-03").stdout == by_flag
    assert "UTC" in first_line(ok(url, "--tz", "UTC", "status", "--as-of", "now"))
    monkeypatch.setenv("TRACKER_TZ", "Mars/Olympus_Mons")
    one_line_error(cli(url, "status"), EXIT_USAGE, "unknown time zone", "TRACKER_TZ")


def test_an_unknown_zone_is_one_line(url, clock) -> None:
    one_line_error(cli(url, "--tz", "Atlantis/Capital", "status"), EXIT_USAGE, "unknown time zone",
                   "--tz", "Asia/Hong_Kong")
    one_line_error(cli(url, "--tz", "../../../etc/passwd", "news"), EXIT_USAGE, "unknown time zone")


# -- one grammar everywhere --------------------------------------------------------------------

WHEN_OPTIONS = [
    ("status", "--as-of"), ("status", "--world-as-of"), ("status", "--until"),
    ("timeline", "--since"), ("timeline", "--until"), ("diff", "--since"),
    ("diff", "--recorded-since"), ("news", "--since"), ("news", "--until"),
    ("claims", "--as-of"),
]


@pytest.mark.parametrize("when", ["1d12h", "2w", "3 days ago", "7d", "yesterday", "2025-05",
                                  "2025-05-03T07:00"])
def test_every_when_option_reads_the_one_grammar(url, clock, when) -> None:
    for command, option in WHEN_OPTIONS:
        extra = ("--since", "2w") if command == "diff" and option == "--until" else ()
        ok(url, command, option, when, *extra)
    ok(url, "diff", "--since", "2w", "--until", when)
    ok(url, "diff", "--recorded-since", "2w", "--as-of", when)


@pytest.mark.parametrize(("every", "seconds"), [("1w", 7 * 86400), ("1d12h", 36 * 3600),
                                                ("2 days", 2 * 86400), ("1h30m", 5400)])
def test_feeds_add_every_reads_the_same_durations(url, clock, every, seconds) -> None:
    ok(url, "feeds", "add", "weekly", "https://example.com/feed.xml", "--every", every)
    [feed] = [f for f in as_json(url, "feeds", "list") if f["name"] == "weekly"]
    assert feed["every_seconds"] == seconds
    one_line_error(cli(url, "feeds", "add", "daily", "https://example.com/d.xml", "--every",
                       "3 days ago"), EXIT_USAGE, "--every", "cannot read interval")


def test_a_bad_when_is_one_line_on_every_option(url, clock) -> None:
    for command, option in WHEN_OPTIONS:
        one_line_error(cli(url, command, option, "fortnight"), EXIT_USAGE, "WHEN", "3 days ago")


def test_diff_needs_a_lower_bound_on_the_axis_of_its_upper_one(url, clock) -> None:
    one_line_error(cli(url, "diff"), EXIT_USAGE, "--since", "--recorded-since")
    one_line_error(cli(url, "diff", "--until", "today"), EXIT_USAGE, "--until needs --since")
    one_line_error(cli(url, "diff", "--as-of", "today"), EXIT_USAGE,
                   "--as-of needs --recorded-since")


# -- no microseconds -------------------------------------------------------------------------------

TEXT_COMMANDS = [
    ("status",), ("status", "--as-of", "7d"), ("status", "--world-as-of", "2025-04"),
    ("status", "--as-of", "now"), ("timeline",), ("timeline", "--since", "3 days ago"),
    ("diff", "--recorded-since", "3 days ago"), ("diff", "--since", "1d12h"),
    ("news",), ("news", "--since", "2w"), ("news", "--until", "now"), ("feeds", "health"),
    ("claims", "--state", "all"), ("rules", "show"), ("sources",),
    ("news", "--explain", "st-saturday-hk"),
]


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("zone", ["UTC", HK])
def test_no_microseconds_in_any_text_output(url, clock, fmt, zone) -> None:
    for args in TEXT_COMMANDS:
        if fmt == "markdown" and args[0] in ("feeds", "rules", "sources"):
            continue
        extra = () if fmt == "text" else ("--format", "markdown")
        out = ok(url, "--tz", zone, *args, *extra).stdout
        assert not MICROSECONDS.search(out), (args, MICROSECONDS.search(out))
    for line in ok(url, "--tz", zone, "log").stdout.splitlines():
        stamp = line.split()[1:4]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (UTC|HKT)", " ".join(stamp)), line


def test_the_log_shows_when_each_event_was_recorded_in_the_zone(url, clock) -> None:
    first = ok(url, "--tz", HK, "log", "--limit", "1").stdout
    assert "2025-05-02 16:30:15 HKT" in first
    assert "2025-05-02 08:30:15 UTC" in ok(url, "log", "--limit", "1").stdout


# -- a dossier's own zone --------------------------------------------------------------------------

def _zoned_dossier(tmp_path: Path, zone: str) -> Path:
    source = ROOT / "tests" / "fixtures" / "dossiers" / "gba-cross-boundary-data.json"
    seed = json.loads(source.read_text(encoding="utf-8"))
    tracked = next(e for e in seed["events"] if e["type"] == "policy.tracked")
    tracked["data"]["timezone"] = zone
    target = tmp_path / "zoned.json"
    target.write_text(json.dumps(seed), encoding="utf-8")
    rules = source.with_suffix(".toml")
    (tmp_path / rules.name).write_text(rules.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def test_a_dossier_may_set_its_own_zone(db_url, clock, tmp_path, monkeypatch) -> None:
    app.open_tracker(db_url).close()  # migrated and empty: only this dossier is tracked
    ok(db_url, "seed", str(_zoned_dossier(tmp_path, HK)))
    monkeypatch.delenv("TRACKER_TZ")
    assert "HKT" in ok(db_url, "log", "--limit", "1").stdout
    assert "(2024-12-31 23:59 HKT)" in first_line(ok(db_url, "status", "--world-as-of",
                                                      "2024"))
    # the user's choice wins over the dossier's
    assert "UTC" in ok(db_url, "--tz", "UTC", "log", "--limit", "1").stdout
    monkeypatch.setenv("TRACKER_TZ", "UTC")
    assert "HKT" not in ok(db_url, "log", "--limit", "1").stdout


def test_a_dossier_zone_that_does_not_exist_is_refused_when_seeded(db_url, clock,
                                                                  tmp_path) -> None:
    app.open_tracker(db_url).close()
    one_line_error(cli(db_url, "seed", str(_zoned_dossier(tmp_path, "Asia/Atlantis"))),
                   EXIT_USAGE, "unknown time zone")
