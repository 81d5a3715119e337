"""Hostile input ends in one line on stderr and a non-zero exit, never a traceback: WHEN values
and positions out of range, intervals, deeply nested seed files, a data directory that cannot
be made, a schema newer than this tracker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tests.support.cli import cli, ok
from tests.support.paths import ROOT
from tracker import migrate
from tracker.app import open_tracker
from tracker.cli import main
from tracker.errors import EXIT_ERROR, EXIT_SCHEMA_NEWER, EXIT_USAGE
from tracker.ingest.subscriptions import parse_interval
from tracker.limits import MAX_POSITION

FIXTURE_SEED = ROOT / "tests" / "fixtures" / "dossiers" / "gba-cross-boundary-data.json"


def one_line_error(result: Result, code: int, *fragments: str, short: bool = True) -> str:
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tracker: "), lines[0]
    assert not short or len(lines[0]) < 300, lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def url(sqlite_url: str) -> str:
    open_tracker(sqlite_url).close()  # migrated and empty
    return sqlite_url


# -- WHEN ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("status", "--as-of", "740000d"),
    ("status", "--world-as-of", "99999999999999999999d"),
    ("status", "--as-of", "1" * 5000 + "d"),
    ("status", "--as-of", "9999"),
    ("timeline", "--since", "740000w"),
    ("news", "--since", "99999y"),
    ("claims", "--as-of", "1899-12-31"),
    ("diff", "--since", "2201"),
])
def test_when_outside_the_years_tracker_reads_is_one_line(url, args) -> None:
    one_line_error(cli(url, *args), EXIT_USAGE, "WHEN", "1900 to 2200")


def test_when_at_the_edges_of_the_range_is_read(url) -> None:
    ok(url, "status", "--world-as-of", "1900")
    ok(url, "status", "--world-as-of", "2200-12-31")


# -- positions ----------------------------------------------------------------------------------


HUGE = "99999999999999999999999"


@pytest.mark.parametrize("args", [
    ("retract", HUGE, "--reason", "r"),
    ("correct", HUGE, "--set", "a=1", "--reason", "r"),
    ("log", "--after", str(10**30)),
    ("log", "--limit", str(10**30)),
    ("retract", str(MAX_POSITION + 1), "--reason", "r"),
    ("retract", "0", "--reason", "r"),
    ("log", "--after", "-1"),
])
def test_position_out_of_range_is_one_line(url, args) -> None:
    one_line_error(cli(url, *args), EXIT_USAGE, str(MAX_POSITION))


def test_position_that_is_no_number_is_one_line(url) -> None:
    one_line_error(cli(url, "retract", "1e3", "--reason", "r"), EXIT_USAGE, "POSITION",
                   "not a whole number")


def test_largest_position_reaches_the_store(db_url) -> None:
    open_tracker(db_url).close()
    top = str(MAX_POSITION)
    one_line_error(cli(db_url, "retract", top, "--reason", "r"), EXIT_USAGE,
                   f"no event at position {top}")
    one_line_error(cli(db_url, "correct", top, "--set", "a=1", "--reason", "r"), EXIT_USAGE,
                   f"no event at position {top}")
    assert ok(db_url, "log", "--after", top).stdout == ""


# -- intervals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("every", ["999999999999d", "366d", "1" * 5000 + "d", "59s"])
def test_feed_interval_out_of_range_is_refused_before_anything_is_recorded(url, every) -> None:
    result = cli(url, "feeds", "add", "bounded", "https://example.com/feed.xml", "--every", every)
    one_line_error(result, EXIT_USAGE, "--every")
    assert "bounded" not in ok(url, "feeds", "list").stdout


def test_interval_bounds_are_a_minute_and_a_year() -> None:
    assert parse_interval("1m") == 60
    assert parse_interval("365d") == parse_interval("8760h") == 365 * 86400


@pytest.mark.parametrize("seconds", ["nan", "inf", "1e308", "0"])
def test_poll_interval_out_of_range_is_one_line(url, seconds) -> None:
    result = cli(url, "project", "--follow", "--poll-interval", seconds)
    one_line_error(result, EXIT_USAGE, "--poll-interval")


# -- nested JSON ----------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("text", ["[" * 100_000, _nested(65), _nested(50_000)])
def test_deeply_nested_seed_file_is_one_line_naming_it(url, tmp_path, text) -> None:
    seed = tmp_path / "deep.json"
    seed.write_text(text, encoding="utf-8")
    one_line_error(cli(url, "seed", str(seed)), EXIT_USAGE, "deep.json", "64")


def test_seed_nested_within_the_limit_is_read_as_usual(url, tmp_path) -> None:
    doc = json.loads(FIXTURE_SEED.read_text(encoding="utf-8"))
    doc["notes"] = json.loads(_nested(60))  # 61 levels with the top object
    seed = tmp_path / FIXTURE_SEED.name
    seed.write_text(json.dumps(doc), encoding="utf-8")
    rules = FIXTURE_SEED.with_suffix(".toml")
    shutil.copy(rules, tmp_path / rules.name)
    assert "0 already in the log" in ok(url, "seed", str(seed)).stdout


def test_seed_file_with_an_endless_number_is_one_line(url, tmp_path) -> None:
    seed = tmp_path / "long.json"
    seed.write_text('{"dossier_id": ' + "1" * 5000 + "}", encoding="utf-8")
    one_line_error(cli(url, "seed", str(seed)), EXIT_USAGE, "long.json")


def test_deeply_nested_rules_file_is_one_line(url, tmp_path) -> None:
    rules = tmp_path / "deep.toml"
    rules.write_text("version = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    one_line_error(cli(url, "rules", "set", str(rules), "--policy", "x"), EXIT_USAGE,
                   "deep.toml")
    doc = json.loads(FIXTURE_SEED.read_text(encoding="utf-8"))
    doc["rules"] = "deep.toml"
    seed = tmp_path / "names-deep-rules.json"
    seed.write_text(json.dumps(doc), encoding="utf-8")
    one_line_error(cli(url, "seed", str(seed)), EXIT_USAGE, "deep.toml")


def test_correct_with_deeply_nested_value_is_one_line(url) -> None:
    result = cli(url, "correct", "1", "--set", "a=" + "[" * 100_000, "--reason", "r")
    one_line_error(result, EXIT_USAGE, "--set", "64")


# -- the data directory ---------------------------------------------------------------------------


def test_database_under_a_file_is_one_line_naming_the_path(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    for target in (blocker / "tracker.db", blocker / "deeper" / "tracker.db"):
        result = cli(str(target), "status")
        one_line_error(result, EXIT_ERROR, "cannot create the data directory", str(blocker))


def test_default_data_directory_that_cannot_be_made_is_one_line(tmp_path) -> None:
    blocker = tmp_path / "data-home"
    blocker.write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["status"], env={"XDG_DATA_HOME": str(blocker),
                                                       "TRACKER_DATABASE_URL": None})
    one_line_error(result, EXIT_ERROR, "cannot create the data directory", str(blocker))


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_database_url_on_proc_is_one_line() -> None:
    one_line_error(cli("sqlite:////proc/x/y.db", "status"), EXIT_ERROR, "/proc/x")


def test_file_name_too_long_is_one_line(tmp_path) -> None:
    target = tmp_path / ("a" * 300) / "tracker.db"
    one_line_error(cli(str(target), "status"), EXIT_ERROR, "File name too long", short=False)
    one_line_error(cli(f"sqlite:///{tmp_path / 'x.db'}", "seed", str(tmp_path / ("b" * 300))),
                   EXIT_USAGE, "no seed file")


# -- a schema from a newer tracker ------------------------------------------------------------


FUTURE = "9999_from_a_newer_tracker"


def test_schema_newer_than_this_tracker_is_refused_not_upgraded(db_url) -> None:
    open_tracker(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    try:
        for args in (("db", "upgrade"), ("db", "current"), ("status",)):
            one_line_error(cli(db_url, *args), EXIT_SCHEMA_NEWER, FUTURE,
                           "newer than this tracker", migrate.head_revision())
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() \
                == FUTURE
    finally:
        engine.dispose()
