"""The log commands, as a user runs them (click's CliRunner), on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from click.testing import CliRunner

from tracker import migrate
from tracker.app import open_tracker
from tracker.cli import main
from tracker.events import NewEvent


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["--database-url", url, *args], catch_exceptions=False)


def seed_some(url: str, n: int = 4) -> None:
    tracker = open_tracker(url)
    for i in range(n):
        tracker.store.append(f"s{i % 2}", [NewEvent(
            "test.appended", {"n": i}, datetime(2025, 4, 1, tzinfo=UTC), "month",
            {"source": {"id": "t"}})])
    tracker.close()


def test_db_upgrade_then_current(db_url):
    result = run(db_url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    head = migrate.head_revision()
    assert f"upgraded empty -> {head}" in result.output
    again = run(db_url, "db", "upgrade")
    assert f"already at revision {head}" in again.output
    current = run(db_url, "db", "current")
    assert f"revision {head}" in current.output and "up to date" in current.output


def test_log_text_and_filters(db_url):
    seed_some(db_url)
    result = run(db_url, "log", "--stream", "s1")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == ["2", "4"]
    limited = run(db_url, "log", "--after", "1", "--limit", "2")
    assert [line.split()[0] for line in limited.output.splitlines()] == ["2", "3"]


def test_log_jsonl_contract(db_url):
    seed_some(db_url, 2)
    result = run(db_url, "log", "--format", "jsonl", "--type", "test.appended")
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 2
    assert set(records[0]) >= {"position", "event_id", "stream_id", "stream_version", "type",
                               "schema_version", "occurred_at", "occurred_precision",
                               "recorded_at", "data", "meta", "hash"}
    assert records[0]["occurred_precision"] == "month"
    assert records[1]["data"] == {"n": 1}


def test_verify_ok_and_broken(db_url):
    seed_some(db_url, 3)
    ok = run(db_url, "verify")
    assert ok.exit_code == 0 and "3 events" in ok.output
    engine = sa.create_engine(db_url.replace("postgresql+psycopg", "postgresql+psycopg"))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER events_no_update"))
        else:
            conn.execute(sa.text("DROP TRIGGER events_no_update_delete ON events"))
        conn.execute(sa.text("UPDATE events SET stream_id = 'forged' WHERE position = 2"))
    engine.dispose()
    broken = run(db_url, "verify")
    assert broken.exit_code == 5
    assert "broken at position 2" in broken.output


def test_schema_behind_gives_one_line_naming_the_fix(sqlite_url):
    seed_some(sqlite_url, 1)
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
    engine.dispose()
    result = CliRunner().invoke(main, ["--database-url", sqlite_url, "log"])
    assert result.exit_code == 4
    assert result.output.strip().count("\n") == 0
    assert "tracker db upgrade" in result.output


def test_unreachable_database_is_one_line_with_masked_password():
    result = CliRunner().invoke(
        main, ["--database-url", "postgresql://u:s3cret@127.0.0.1:1/nodb", "log"])
    assert result.exit_code != 0
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unsupported_url_is_one_line():
    result = CliRunner().invoke(main, ["--database-url", "mysql://x/y", "verify"])
    assert result.exit_code == 1
    assert "cannot use database" in result.output


def test_log_rejects_bad_limit(sqlite_url):
    result = CliRunner().invoke(main, ["--database-url", sqlite_url, "log", "--limit", "0"])
    assert result.exit_code == 2
