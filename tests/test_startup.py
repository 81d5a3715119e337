"""Start-up: a read command imports only what it uses, and checks the schema without Alembic.

``tracker status`` used to import Alembic (through tracker.migrate), httpx, feedparser and
more before doing 30 ms of work; each now waits for the command that needs it (issue 14,
docs/performance.md "Start-up"). What a fresh interpreter imports is read in a child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tracker import migrate
from tracker.app import open_tracker
from tracker.dossier import load_seeds

#: Modules a read command must not import: migrations, HTTP, feed parsing, scheduling.
HEAVY = ("alembic", "httpx", "httpcore", "feedparser", "apscheduler", "psycopg", "jinja2",
         "rapidfuzz", "opencc", "smtplib")

_CHILD = """
import json, sys
import tracker.cli
after_import = sorted(m for m in {heavy} if m in sys.modules)
try:
    tracker.cli.main(args=sys.argv[1:], prog_name="tracker")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print(json.dumps({{"import": after_import, "run": sorted(m for m in {heavy} if m in sys.modules),
                  "code": code}}), file=sys.stderr)
"""


def _imported(url: str, *args: str) -> dict[str, object]:
    env = {**os.environ, "TRACKER_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-c", _CHILD.format(heavy=HEAVY), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, done.stderr
    return result


def test_the_head_revision_constant_is_alembics_head() -> None:
    assert migrate.alembic_head() == migrate.HEAD_REVISION
    assert migrate.alembic_head() == migrate.head_revision()


def test_status_imports_neither_alembic_nor_http_nor_feed_parsing(sqlite_url: str) -> None:
    tracker = open_tracker(sqlite_url)  # migrated and seeded here, so the child only reads
    load_seeds(tracker)
    tracker.close()

    found = _imported(sqlite_url, "status")

    assert found["import"] == []
    assert found["run"] == []


@pytest.mark.parametrize("command", [("timeline",), ("claims",), ("feeds", "list")])
def test_other_read_commands_import_no_more(sqlite_url: str, command: tuple[str, ...]) -> None:
    open_tracker(sqlite_url).close()
    assert _imported(sqlite_url, *command)["run"] == []


def test_the_schema_check_reads_the_revision_alone(sqlite_url: str) -> None:
    tracker = open_tracker(sqlite_url)
    assert migrate.current_revision(tracker.engine) == migrate.HEAD_REVISION
    migrate.require_current(tracker.engine)
    tracker.close()
