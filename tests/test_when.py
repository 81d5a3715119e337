"""The one WHEN grammar and the one duration grammar (tracker.when), and the user's time zone
(tracker.zones): pure, against fixed clocks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tracker.dates import on_calendar
from tracker.errors import UsageError
from tracker.ingest.subscriptions import parse_interval
from tracker.when import TICK, DurationError, duration_seconds, parse_when
from tracker.zones import (
    ZONE_ENV,
    agreed_zone,
    explicit_zone,
    instant_text,
    resolve_zone,
    showing,
    shown_zone,
    system_zone,
    when_text,
    zone_named,
)

HK = zone_named("Asia/Hong_Kong")
#: Monday 5 May 2025, 10:00 UTC (18:00 in Hong Kong), with microseconds to show they never leak.
NOW = datetime(2025, 5, 5, 10, 0, 0, 123456, tzinfo=UTC)


# -- durations ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("1d12h", 129600), ("2w", 1209600),
    ("1w", 604800), ("7d", 604800), ("1y", 365 * 86400), ("2 weeks", 1209600),
    ("1 day 12 hours", 129600), ("1h 30min", 5400), ("3 DAYS", 259200), ("1d, 12h", 129600),
])
def test_one_duration_grammar(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "1h and a bit", "soon", "1.5h", "-1d",
                                  "1d-2h", "1 mo"])
def test_what_is_no_duration(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        duration_seconds(text)
    assert not caught.value.too_large


@pytest.mark.parametrize("text", ["1" * 5000 + "d", "99999999999999999999s", "40000y"])
def test_durations_too_long_to_mean_anything(text: str) -> None:
    with pytest.raises(DurationError) as caught:
        duration_seconds(text)
    assert caught.value.too_large


def test_feed_intervals_share_the_grammar() -> None:
    assert parse_interval("1w") == 7 * 86400
    assert parse_interval("1d12h") == 36 * 3600
    assert parse_interval("2 days") == 2 * 86400
    with pytest.raises(UsageError, match="over the maximum of 365d"):
        parse_interval("53w")
    with pytest.raises(UsageError, match="under the minimum of 1m"):
        parse_interval("30s")
    with pytest.raises(UsageError, match="cannot read interval '3 days ago'"):
        parse_interval("3 days ago")


# -- WHEN: periods and bounds ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "back"), [
    ("7d", timedelta(days=7)), ("1d12h", timedelta(hours=36)), ("2w", timedelta(weeks=2)),
    ("3 days ago", timedelta(days=3)), ("12h", timedelta(hours=12)),
    ("1 day 12 hours ago", timedelta(hours=36)), ("90min ago", timedelta(minutes=90)),
])
def test_a_time_ago_is_an_instant_back_from_now(text: str, back: timedelta) -> None:
    when = parse_when(text, NOW, HK)
    assert when.precision == "instant"
    assert when.start == NOW - back
    assert when.before == NOW - back + TICK


@pytest.mark.parametrize(("text", "zone", "start", "end"), [
    ("2024", UTC, datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
    ("2024", HK, datetime(2023, 12, 31, 16, tzinfo=UTC), datetime(2024, 12, 31, 16, tzinfo=UTC)),
    ("2025-04", HK, datetime(2025, 3, 31, 16, tzinfo=UTC), datetime(2025, 4, 30, 16, tzinfo=UTC)),
    ("2025-05-03", HK, datetime(2025, 5, 2, 16, tzinfo=UTC), datetime(2025, 5, 3, 16, tzinfo=UTC)),
    ("2025-W18-6", UTC, datetime(2025, 5, 3, tzinfo=UTC), datetime(2025, 5, 4, tzinfo=UTC)),
    ("2025-05-03T07:00", HK, datetime(2025, 5, 2, 23, tzinfo=UTC),
     datetime(2025, 5, 2, 23, 1, tzinfo=UTC)),
    ("2025-05-03 07:00", HK, datetime(2025, 5, 2, 23, tzinfo=UTC),
     datetime(2025, 5, 2, 23, 1, tzinfo=UTC)),
    ("2025-05-03T07:00Z", HK, datetime(2025, 5, 3, 7, tzinfo=UTC),
     datetime(2025, 5, 3, 7, 1, tzinfo=UTC)),
    ("2025-05-03T07:00:30+08:00", UTC, datetime(2025, 5, 2, 23, 0, 30, tzinfo=UTC),
     datetime(2025, 5, 2, 23, 0, 30, 1, tzinfo=UTC)),
    ("yesterday", HK, datetime(2025, 5, 3, 16, tzinfo=UTC), datetime(2025, 5, 4, 16, tzinfo=UTC)),
    ("today", UTC, datetime(2025, 5, 5, tzinfo=UTC), datetime(2025, 5, 6, tzinfo=UTC)),
])
def test_a_period_is_read_in_the_zone(text: str, zone, start: datetime, end: datetime) -> None:
    when = parse_when(text, NOW, zone)
    assert (when.start, when.end) == (start, end)
    assert when.as_lower().before == start  # a lower bound is the start of its period


def test_an_upper_bound_is_the_end_of_its_period_never_later_than_now() -> None:
    assert parse_when("2024", NOW).before == datetime(2025, 1, 1, tzinfo=UTC)
    for text in ("today", "now", "2025", "2025-05", "2025-05-05", "2030", "2200-12-31",
                 "2025-05-05T18:00", "1d", "yesterday", "2024"):
        for zone in (UTC, HK, timezone(timedelta(hours=-10))):
            when = parse_when(text, NOW, zone)
            assert when.before <= NOW + TICK, (text, zone)
            assert when.recorded_until <= NOW, (text, zone)
    today = parse_when("today", NOW, HK)
    assert today.before == NOW + TICK and today.cut_at_now


def test_labels_say_what_the_bound_means_never_a_day_off() -> None:
    assert parse_when("2024", NOW).label() == "end of 2024 (2024-12-31 23:59 UTC)"
    assert parse_when("2024", NOW, HK).label() == "end of 2024 (2024-12-31 23:59 HKT)"
    assert parse_when("2025-04", NOW, HK).label() == "end of 2025-04 (2025-04-30 23:59 HKT)"
    assert parse_when("2025-05-03", NOW, HK).label() == "end of 2025-05-03 (23:59 HKT)"
    assert parse_when("2025-05-03", NOW, HK).as_lower().label() == \
        "start of 2025-05-03 (00:00 HKT)"
    # a period not over yet ends now: today is today, not tomorrow
    assert parse_when("today", NOW, HK).label() == "2025-05-05 18:00:00 HKT"
    assert parse_when("today", NOW).label() == "2025-05-05 10:00:00 UTC"
    assert parse_when("yesterday", NOW, HK).label() == "end of 2025-05-04 (23:59 HKT)"
    assert parse_when("2025-05-03T07:00", NOW, HK).label() == "2025-05-03 07:00 HKT"
    assert parse_when("3 days ago", NOW, HK).label() == "2025-05-02 18:00:00 HKT"
    for text in ("now", "7d", "2024", "today", "2025-05-03T07:00:30.5"):
        assert not re.search(r"\d[.,]\d", parse_when(text, NOW, HK).label()), text


@pytest.mark.parametrize("text", ["9999", "2201", "1899-12-31", "740000d", "99999y",
                                  "1" * 5000 + "d"])
def test_whens_outside_the_years_read_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="1900 to 2200"):
        parse_when(text, NOW, HK)


@pytest.mark.parametrize("text", ["", "7x", "yesterdayish", "2025-13", "2025-02-30", "undated",
                                  "ago", "3 days hence", "tomorrow"])
def test_unreadable_whens_name_the_forms(text: str) -> None:
    with pytest.raises(UsageError, match="cannot read WHEN.*3 days ago"):
        parse_when(text, NOW, HK)


def test_a_calendar_date_from_the_record_ends_at_midnight_in_the_zone() -> None:
    """"April 2025" in the record has happened by the end of April wherever it is read."""
    april_end = datetime(2025, 5, 1, tzinfo=UTC)  # how the record stores the end of April
    for zone in (UTC, HK, timezone(timedelta(hours=-10))):
        assert parse_when("2025-04", NOW, zone).reached(april_end, "month")
        assert not parse_when("2025-04-29", NOW, zone).reached(april_end, "month")
    # an instant is the same moment everywhere: Friday 23:00 UTC is Saturday in Hong Kong
    friday_late = datetime(2025, 5, 2, 23, tzinfo=UTC)
    assert on_calendar(friday_late, "instant", HK) == friday_late
    assert not parse_when("2025-05-02", NOW, HK).reached(friday_late, "instant")
    assert parse_when("2025-05-02", NOW, UTC).reached(friday_late, "instant")


# -- the zone ---------------------------------------------------------------------------------

def test_the_zone_is_the_flag_then_the_environment_then_the_config_then_the_dossier() -> None:
    env = {ZONE_ENV: "Europe/London"}
    assert str(resolve_zone("Asia/Hong_Kong", env, "UTC", "America/New_York")) == \
        "Asia/Hong_Kong"
    assert str(resolve_zone(None, env, "UTC", "America/New_York")) == "Europe/London"
    assert resolve_zone(None, {}, "utc", "America/New_York") is UTC
    assert str(resolve_zone(None, {}, None, "America/New_York")) == "America/New_York"
    assert resolve_zone(None, {}, None, None) == system_zone()
    # a dossier zone this machine lacks is ignored
    assert resolve_zone(None, {}, None, "No/Such_Zone") == system_zone()
    assert explicit_zone(None, {ZONE_ENV: " "}, "") is None
    assert zone_named("+08:00").utcoffset(None) == timedelta(hours=8)
    assert zone_named("UTC-05:30").utcoffset(None) == -timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(("flag", "env", "origin"), [
    ("Mars/Olympus", {}, "--tz"), (None, {ZONE_ENV: "Asia"}, ZONE_ENV),
    (None, {ZONE_ENV: "../../etc/passwd"}, ZONE_ENV), ("x" * 5000, {}, "--tz"),
    ("Asia/Hong\x00Kong", {}, "--tz"), ("+25:00", {}, "--tz"),
])
def test_an_unknown_zone_is_one_line_naming_where_it_came_from(flag, env, origin) -> None:
    with pytest.raises(UsageError) as caught:
        explicit_zone(flag, env, None)
    message = str(caught.value)
    assert message.startswith("unknown time zone") and f"({origin})" in message
    assert "\n" not in message and len(message) < 300


def test_dossiers_set_a_zone_only_when_they_agree() -> None:
    assert agreed_zone(["Asia/Hong_Kong", None, "Asia/Hong_Kong"]) == "Asia/Hong_Kong"
    assert agreed_zone(["Asia/Hong_Kong", "Europe/London"]) is None
    assert agreed_zone([None, 3]) is None


def test_times_are_shown_in_the_zone_without_microseconds() -> None:
    friday_late = "2025-05-02T23:00:00.000000Z"
    assert instant_text(friday_late, HK) == "2025-05-03 07:00 HKT"
    assert instant_text(NOW, HK) == "2025-05-05 18:00:00 HKT"
    assert instant_text(NOW, timezone(timedelta(hours=5, minutes=30))) == \
        "2025-05-05 15:30:00 +05:30"
    assert instant_text(NOW, zone_named("America/Sao_Paulo")) == "2025-05-05 07:00:00 -03:00"
    assert when_text("2025-04", "month", HK) == "2025-04"  # a calendar date stays as dated
    assert when_text("undated", "undated", HK) == "undated"
    assert when_text("now", None, HK) == "now"
    assert shown_zone() is UTC  # outside a command
    with showing(HK):
        assert when_text(friday_late) == "2025-05-03 07:00 HKT"
        with showing(lambda: UTC):
            assert when_text(friday_late) == "2025-05-02 23:00 UTC"
        assert shown_zone() is HK
    assert shown_zone() is UTC
