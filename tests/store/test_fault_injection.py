"""Fault injection: `tracker import` and a first use (migrate, seed, project) run in a child
process that is SIGKILLed at a few seeded random points, then run again to completion. After
every kill the log is all or nothing; after the re-run it is what an uninterrupted run leaves.

A kill point is "just before the child's Nth SQL statement", N drawn (seeded) from each of a
few equal slices of an uninterrupted run's statements: reproducible, spread over every phase
(migrating, seeding, importing, projecting), and independent of the machine's speed. The child is
forked from the test process, so no time goes on interpreter start-up. An ingest of a loopback
feed is left out: whether loopback feeds may be fetched is being changed elsewhere.
"""

from __future__ import annotations

import io
import itertools
import json
import multiprocessing
import os
import random
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from tests.support.cli import logged_events, ok
from tracker import migrate
from tracker.app import connect, open_tracker
from tracker.cli import main
from tracker.events import NewEvent
from tracker.transfer import export_events

#: Kill points per run, by backend (PostgreSQL's migrations take longer to redo).
KILLS = {"sqlite": 3, "postgresql": 2}
EVENTS = 2100
APRIL = datetime(2025, 4, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="forks the tracker into a child process")


def _die_before(statement: int, args: list[str]) -> None:
    """The child: the CLI, SIGKILLed just before its ``statement``-th SQL statement."""
    seen = itertools.count(1)

    def maybe_die(*_args: Any) -> None:
        if next(seen) == statement:
            os.kill(os.getpid(), signal.SIGKILL)

    sa.event.listen(Engine, "before_cursor_execute", maybe_die)
    main(args)


def killed_before(statement: int, *args: str) -> int | None:
    """Run the CLI in a child killed before its ``statement``-th statement; its exit code when
    it finished first, None when killed."""
    child = multiprocessing.get_context("fork").Process(target=_die_before,
                                                        args=(statement, list(args)))
    child.start()
    child.join(60)
    assert child.exitcode is not None, "the child hung"
    return None if child.exitcode == -signal.SIGKILL else child.exitcode


def statements(run: Callable[[], object]) -> int:
    """How many SQL statements ``run`` executes."""
    seen = itertools.count()

    def count(*_args: Any) -> None:
        next(seen)

    sa.event.listen(Engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        sa.event.remove(Engine, "before_cursor_execute", count)
    return next(seen)


def kill_points(seed: str, total: int, kills: int) -> list[int]:
    """One statement number from each of ``kills`` equal slices of ``1..total``."""
    rng = random.Random(seed)
    edges = [1 + total * i // kills for i in range(kills + 1)]
    return [rng.randrange(low, max(high, low + 1)) for low, high in itertools.pairwise(edges)]


def emptied(url: str) -> str:
    """``url``'s database as new again, so each kill point starts from nothing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return url
    schema = str(parsed.query["options"]).rpartition("search_path=")[2]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return url


def stored(url: str) -> list[dict[str, object]] | None:
    """The stored log, opened without seeding (None while the database has no schema)."""
    tracker = connect(url)
    try:
        if not sa.inspect(tracker.engine).get_table_names():
            return None
        assert migrate.current_revision(tracker.engine) == migrate.head_revision()
        return [e.as_dict() for e in tracker.store.read(upcast=False)]
    finally:
        tracker.close()


def backend(url: str) -> str:
    return make_url(url).get_backend_name()


@pytest.fixture
def export_file(tmp_path: Path) -> tuple[Path, list[dict[str, object]]]:
    """An export of ``EVENTS`` events (three import batches), and the log it holds."""
    source = open_tracker(f"sqlite:///{tmp_path / 'source.db'}")
    try:
        for start in range(0, EVENTS, 100):
            source.store.append(f"s{start % 7}", [NewEvent(
                "test.appended", {"n": n, "text": "x" * 100}, APRIL)
                for n in range(start, start + 100)])
        out = io.StringIO()
        export_events(source.store, out)
        log = [e.as_dict() for e in source.store.read(upcast=False)]
    finally:
        source.close()
    path = tmp_path / "log.jsonl"
    path.write_text(out.getvalue())
    return path, log


def test_import_killed_anywhere_leaves_all_or_nothing_and_completes(db_url, export_file):
    """Into a migrated database (killed while migrating is the first use's test): killed
    again and again, then run to completion."""
    path, log = export_file
    args = ("--database-url", db_url, "import", str(path))
    ok(db_url, "db", "upgrade")
    total = statements(lambda: ok(db_url, *args[2:]))
    assert stored(emptied(db_url)) is None
    ok(db_url, "db", "upgrade")
    for statement in kill_points(f"import-{backend(db_url)}", total, KILLS[backend(db_url)]):
        code = killed_before(statement, *args)
        where = f"killed before statement {statement} of {total}"
        assert code is None, f"finished before it was {where}"
        assert stored(db_url) == [], f"half an import left: {where}"
    ok(db_url, *args[2:])
    assert stored(db_url) == log
    assert ok(db_url, "verify").stdout.startswith(f"ok: {EVENTS} events")


def identities(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """What two first uses share (recorded times, and so hashes, differ)."""
    return [(e["position"], e["event_id"], e["stream_id"], e["type"],
             json.dumps(e["data"], sort_keys=True)) for e in events]


def test_first_use_killed_anywhere_is_completed_by_the_next(db_url):
    total = statements(lambda: ok(db_url, "status"))
    projected = ok(db_url, "project").stdout
    reference = identities(logged_events(db_url))
    for statement in kill_points(f"first-use-{backend(db_url)}", total, KILLS[backend(db_url)]):
        code = killed_before(statement, "--database-url", emptied(db_url), "status")
        where = f"killed before statement {statement} of {total}"
        assert code in (None, 0), where
        log = stored(db_url)
        assert log is None or identities(log) in ([], reference), f"half seeded: {where}"
        assert ok(db_url, "project").stdout == projected, where
        assert identities(logged_events(db_url)) == reference, where
    assert ok(db_url, "verify").stdout.startswith(f"ok: {len(reference)} events")
