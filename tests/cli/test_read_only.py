"""Read commands on an SQLite database this process cannot write: same output as on a writable
copy (projections behind the log are caught up in memory), the file left exactly as it was,
and commands that must write refused in one line."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.support.cli import cli, ok
from tracker import readonly

READS = [
    ("status",),
    ("status", "--world-as-of", "2025-06", "--format", "json"),
    ("timeline", "--format", "markdown"),
    ("log", "--format", "jsonl"),
    ("verify",),
    ("export",),
    ("claims", "--state", "all"),
    ("sources",),
    ("news",),
    ("feeds", "list"),
    ("rules", "show", "--policy", "hk-zhejiang-supply-chain"),
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def stale_db(tmp_path: Path) -> Path:
    """A seeded database whose projection tables are behind its log (a retraction appended
    after the last read), closed so that everything is in the main file."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "tracker.db"
    url = str(path)
    ok(url, "status")
    ok(url, "retract", "2", "--reason", "misread")
    assert not Path(f"{path}-wal").exists()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0]
        caught_up = conn.execute("SELECT position FROM projection_checkpoints "
                                 "WHERE projection = 'policy_state'").fetchone()[0]
    assert caught_up < head
    return path


def expected_outputs(db: Path, tmp_path: Path) -> dict[tuple[str, ...], str]:
    copy = tmp_path / "writable" / db.name
    copy.parent.mkdir()
    shutil.copy(db, copy)
    return {args: ok(str(copy), *args).stdout for args in READS}


def assert_reads_match(url: str, expected: dict[tuple[str, ...], str]) -> None:
    for args in READS:
        result = cli(url, *args)
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout == expected[args], args
    assert "up to date" in ok(url, "db", "current").stdout


def assert_one_line(result: Result, fragment: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert fragment in lines[0], lines[0]


def test_read_commands_on_a_mode_ro_url(stale_db, tmp_path) -> None:
    expected = expected_outputs(stale_db, tmp_path)
    before = digest(stale_db)

    assert_reads_match(f"sqlite:///file:{stale_db}?mode=ro&uri=true", expected)

    assert digest(stale_db) == before


@pytest.fixture
def unwritable(monkeypatch, stale_db) -> Iterator[Path]:
    """``os.access`` answers as it would for a non-root user on a read-only directory (root
    passes every permission check, so chmod alone proves nothing when the suite runs as root)."""
    real = os.access
    folder = stale_db.parent

    def access(path, mode, *args, **kwargs) -> bool:
        if mode & os.W_OK and Path(path) in (folder, stale_db):
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(readonly.os, "access", access)
    yield stale_db


def test_read_commands_on_a_file_this_process_cannot_write(unwritable, tmp_path) -> None:
    expected = expected_outputs(unwritable, tmp_path)
    before = digest(unwritable)

    assert_reads_match(str(unwritable), expected)

    assert digest(unwritable) == before
    assert sorted(p.name for p in unwritable.parent.iterdir()) == ["tracker.db"]


def test_commands_that_write_are_refused_in_one_line(unwritable) -> None:
    before = digest(unwritable)
    assert_one_line(cli(str(unwritable), "retract", "3", "--reason", "r"), "readonly")
    assert_one_line(cli(str(unwritable), "replay"), "read-only")
    assert_one_line(cli(str(unwritable), "project"), "read-only")
    assert digest(unwritable) == before


def test_no_database_in_a_read_only_directory_is_one_line(unwritable) -> None:
    missing = unwritable.parent / "tracker.db"
    missing.unlink()
    assert_one_line(cli(str(missing), "status"), "no database at")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions; "
                    "test_read_commands_on_a_file_this_process_cannot_write covers this as root")
def test_read_commands_in_a_read_only_directory(stale_db, tmp_path) -> None:
    expected = expected_outputs(stale_db, tmp_path)
    before = digest(stale_db)
    stale_db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    stale_db.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert_reads_match(str(stale_db), expected)
        assert digest(stale_db) == before
    finally:
        stale_db.parent.chmod(stat.S_IRWXU)
        stale_db.chmod(stat.S_IRUSR | stat.S_IWUSR)
