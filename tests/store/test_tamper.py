"""Tamper evidence beyond the hash chain: a saved head, and projections past the log's end.

The attacker here has the database file: they drop the append-only triggers, cut the log's tail
(or rewrite it from some point and chain it again), and leave the rest intact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.cli import cli, ok
from tracker.app import connect, head, open_tracker
from tracker.errors import (
    EXIT_CHAIN_BROKEN,
    EXIT_PROJECTION_AHEAD,
    EXIT_USAGE,
    ProjectionAheadError,
)
from tracker.events import GENESIS_HASH, NewEvent
from tracker.projections import PROJECTIONS
from tracker.projector import Projector
from tracker.store import Head

APRIL = datetime(2025, 4, 1, tzinfo=UTC)


def drop_triggers(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text("DROP TRIGGER events_no_update"))
        conn.execute(sa.text("DROP TRIGGER events_no_delete"))
    else:
        conn.execute(sa.text("DROP TRIGGER events_no_update_delete ON events"))


def cut_log(url: str, keep: int) -> None:
    """Delete every event after position ``keep``, behind the tracker's back."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        drop_triggers(conn)
        conn.execute(sa.text("DELETE FROM events WHERE position > :keep"), {"keep": keep})
    engine.dispose()


def rewrite_log(url: str, keep: int, count: int) -> None:
    """Cut the log after ``keep`` and append ``count`` other events, chained as the store does."""
    cut_log(url, keep)
    tracker = connect(url)
    try:
        for n in range(count):
            tracker.store.append("forged", [NewEvent("test.appended", {"n": n}, APRIL)])
    finally:
        tracker.close()


def one_line(text: str) -> str:
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def saved(tmp_path: Path, url: str, fmt: str = "json") -> tuple[Path, dict[str, object]]:
    """`tracker head` kept in a file; and what it says, read as JSON."""
    path = tmp_path / f"head.{fmt}"
    path.write_text(ok(url, "head", "--format", fmt).stdout)
    return path, json.loads(ok(url, "head", "--format", "json").stdout)


def test_head_names_the_last_event_in_both_formats(db_url):
    text = one_line(ok(db_url, "head").stdout)
    value = json.loads(ok(db_url, "head", "--format", "json").stdout)
    assert set(value) == {"position", "hash", "recorded_at"}
    last = json.loads(ok(db_url, "log", "--format", "jsonl", "--after",
                         str(value["position"] - 1)).stdout)
    assert (value["position"], value["hash"], value["recorded_at"]) == (
        last["position"], last["hash"], last["recorded_at"])
    assert text == (f"position {value['position']} hash {value['hash']} "
                    f"recorded_at {value['recorded_at']}")


def test_the_head_of_an_empty_log_is_the_genesis(db_url, tmp_path):
    tracker = open_tracker(db_url)
    try:
        assert head(tracker) == Head(0, GENESIS_HASH)
    finally:
        tracker.close()
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps({"position": 0, "hash": GENESIS_HASH, "recorded_at": None}))
    assert "holds the saved head (position 0)" in ok(db_url, "verify", "--against",
                                                     str(path)).stdout


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_cut_tail_passes_the_chain_but_not_the_saved_head(db_url, tmp_path, fmt):
    path, kept = saved(tmp_path, db_url, fmt)
    position = int(str(kept["position"]))
    assert "holds the saved head" in ok(db_url, "verify", "--against", str(path)).stdout
    cut_log(db_url, position - 2)
    assert ok(db_url, "verify").stdout.startswith("ok: ")  # the chain alone cannot tell
    result = cli(db_url, "verify", "--against", str(path))
    assert result.exit_code == EXIT_CHAIN_BROKEN
    assert one_line(result.output) == (
        f"broken: the log no longer holds the saved head: position {position} is missing "
        f"(the log ends at {position - 2}), so events were removed")


def test_a_rewritten_and_rechained_log_fails_against_the_saved_head(db_url, tmp_path):
    path, kept = saved(tmp_path, db_url)
    position = int(str(kept["position"]))
    rewrite_log(db_url, position - 5, 10)
    assert ok(db_url, "verify").stdout.startswith("ok: ")
    result = cli(db_url, "verify", "--against", str(path))
    assert result.exit_code == EXIT_CHAIN_BROKEN
    line = one_line(result.output)
    assert f"the event at position {position} has hash " in line
    assert f"the saved head {kept['hash']}, so the log was rewritten" in line


def test_a_log_that_grew_still_holds_the_saved_head(db_url, tmp_path):
    path, kept = saved(tmp_path, db_url)
    ok(db_url, "retract", "3", "--reason", "a later event, appended after the head was kept")
    assert f"holds the saved head (position {kept['position']})" in ok(
        db_url, "verify", "--against", str(path)).stdout


@pytest.mark.parametrize("content,message", [
    ("not a head at all", "not a saved head"),
    ('{"position": "3", "hash": "x"}', "not a saved head"),
    ('{"position": 3, "hash": "' + "A" * 64 + '"}', "not a saved head"),
    ("{" + "[" * 5000, "not JSON"),
    ('{"position": 0, "hash": "' + "1" * 64 + '"}', "position 0 has the genesis hash"),
], ids=["prose", "wrong-types", "not-hex", "deep", "bad-genesis"])
def test_a_file_that_is_not_a_head_is_one_line(db_url, tmp_path, content, message):
    path = tmp_path / "head.txt"
    path.write_text(content)
    result = cli(db_url, "verify", "--against", str(path))
    assert result.exit_code == EXIT_USAGE
    assert message in one_line(result.output)


def test_verify_fails_when_a_projection_is_past_the_log(db_url):
    ok(db_url, "project")
    cut_log(db_url, 50)
    result = cli(db_url, "verify")
    assert result.exit_code == EXIT_CHAIN_BROKEN
    line = one_line(result.output)
    assert line.startswith("broken: projection ")
    assert "past the end of the log (50)" in line and "`tracker replay`" in line
    ok(db_url, "replay")
    assert ok(db_url, "verify").stdout.startswith("ok: 50 events")


READERS = [("status",), ("timeline",), ("news",), ("claims",), ("sources",),
           ("feeds", "health"), ("project",)]


def test_reads_refuse_projections_past_the_log_until_rebuilt(db_url):
    ok(db_url, "project")
    cut_log(db_url, 50)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # the seeds hold no story: as if the cut had removed some
        conn.execute(sa.text("UPDATE projection_checkpoints SET position = 60 "
                             "WHERE projection = 'stories'"))
    engine.dispose()
    for args in READERS:
        result = cli(db_url, *args)
        assert result.exit_code == EXIT_PROJECTION_AHEAD, (args, result.output)
        line = one_line(result.output)
        assert "past the end of the log (50)" in line and "`tracker replay`" in line, args
    ok(db_url, "replay")
    for args in READERS:
        ok(db_url, *args)


def test_an_event_appended_after_a_cut_is_not_silently_skipped(db_url):
    ok(db_url, "project")
    cut_log(db_url, 50)
    ok(db_url, "retract", "3", "--reason", "appended at 51, below the projections' checkpoints")
    assert cli(db_url, "status").exit_code == EXIT_PROJECTION_AHEAD
    ok(db_url, "replay")
    assert "policy_state: up to position 51" in ok(db_url, "project").stdout


def test_catch_up_refuses_each_projection_past_the_log(db_url, clock):
    tracker = open_tracker(db_url, clock)
    try:
        tracker.store.append("s", [NewEvent("test.appended", {"n": 1}, APRIL)])
        projector = Projector(tracker.store, PROJECTIONS, clock)
        projector.catch_up()
        with tracker.engine.begin() as conn:
            conn.execute(sa.text("UPDATE projection_checkpoints SET position = 2 "
                                 "WHERE projection = 'timeline'"))
        assert projector.catch_up(["policy_state"])["policy_state"] == 0
        with pytest.raises(ProjectionAheadError, match=r"^projection timeline is at position 2, "
                                                       r"past the end of the log \(1\)"):
            projector.catch_up()
        tracker.store.append("s", [NewEvent("test.appended", {"n": 2}, APRIL)])
        assert projector.catch_up()["timeline"] == 2  # level with the log again: not ahead
    finally:
        tracker.close()
