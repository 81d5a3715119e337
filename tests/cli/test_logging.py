"""-v / -q: logging to stderr with timestamps; Alembic and APScheduler quiet by default."""

from __future__ import annotations

import logging
import re

import pytest
from click.testing import CliRunner, Result

from tests.support.paths import SAMPLE_FEEDS
from tracker import logconfig
from tracker.cli import main
from tracker.errors import EXIT_USAGE

#: "%(asctime)s %(levelname)s %(name)s: %(message)s"
LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: .+")


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args])


@pytest.fixture(autouse=True)
def _restore_logging():
    names = ("tracker", *logconfig.QUIET_LIBRARIES)
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    logconfig.configure()  # back to the default, one handler
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def logged(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if LINE.fullmatch(line)]


def test_verbose_ingest_logs_timestamped_lines_for_cron(sqlite_url) -> None:
    sample = SAMPLE_FEEDS / "delta-trade-wire.xml"
    assert run(sqlite_url, "feeds", "add", "delta", str(sample), "--allow-local").exit_code == 0
    quiet = run(sqlite_url, "ingest", "--feed", "delta")
    assert quiet.exit_code == 0, quiet.output
    assert logged(quiet) == []
    verbose = run(sqlite_url, "-v", "ingest", "--feed", "delta")
    assert verbose.exit_code == 0, verbose.output
    lines = logged(verbose)
    assert any(" INFO tracker.ingest: ingest started" in line for line in lines), lines
    assert any(" INFO tracker.ingest: delta: " in line for line in lines), lines
    assert any(" INFO tracker.ingest: ingest: 1 feed" in line and "polled" in line
               for line in lines), lines
    after = run(sqlite_url, "ingest", "--feed", "delta", "-v")  # -v after the command too
    assert any("ingest started" in line for line in logged(after))


def test_migrating_a_new_database_says_nothing_unless_asked(tmp_path) -> None:
    default = run(f"sqlite:///{tmp_path / 'a.db'}", "-v", "status")
    assert default.exit_code == 0, default.output
    assert not [line for line in default.stderr.splitlines() if "alembic" in line]
    everything = run(f"sqlite:///{tmp_path / 'b.db'}", "-vv", "status")
    assert everything.exit_code == 0, everything.output
    assert [line for line in logged(everything) if " alembic." in line]


def test_verbose_and_quiet_together_is_a_usage_error(sqlite_url) -> None:
    result = run(sqlite_url, "-v", "-q", "status")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.strip() == "tracker: -v and -q contradict each other: give one"


@pytest.mark.parametrize("verbose, quiet, tracker_level, library_level", [
    (0, False, logging.WARNING, logging.WARNING),
    (1, False, logging.INFO, logging.WARNING),
    (2, False, logging.DEBUG, logging.DEBUG),
    (3, False, logging.DEBUG, logging.DEBUG),
    (0, True, logging.ERROR, logging.ERROR),
])
def test_levels(verbose, quiet, tracker_level, library_level) -> None:
    assert logconfig.configure(verbose, quiet) == tracker_level
    assert logging.getLogger("tracker").level == tracker_level
    for name in ("alembic", "apscheduler"):
        assert logging.getLogger(name).level == library_level


def test_quiet_hides_warnings_and_one_handler_stays(capsys) -> None:
    logconfig.configure(quiet=True)
    logging.getLogger("tracker.test").warning("hidden")
    logging.getLogger("tracker.test").error("shown")
    logconfig.configure()
    logging.getLogger("tracker.test").warning("once")
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 1)[1] for line in err] == ["shown", "once"]
    assert all(LINE.fullmatch(line) and " tracker.test: " in line for line in err)
