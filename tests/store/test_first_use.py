"""First use (migrate, then seed) completes, or is completed by the next use."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.cli import logged_events, ok
from tracker import dossier
from tracker.app import Tracker, connect, open_tracker
from tracker.cli import _on_new_database
from tracker.events import NewEvent
from tracker.transfer import export_events

APRIL = datetime(2025, 4, 1, tzinfo=UTC)


def identities(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
    """What two first uses share (recorded times, and so hashes, differ)."""
    return [(e["position"], e["event_id"], e["stream_id"], e["stream_version"], e["type"],
             json.dumps(e["data"], sort_keys=True)) for e in events]


@pytest.fixture
def first_use(tmp_path: Path) -> list[tuple[object, ...]]:
    """The log an uninterrupted first use leaves."""
    return identities(logged_events(f"sqlite:///{tmp_path / 'reference.db'}"))


def killed_by(what: BaseException) -> Callable[[Tracker], None]:
    def on_new_database(_tracker: Tracker) -> None:
        raise what
    return on_new_database


def first_use_marks(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM locks")).scalar() or 0)
    finally:
        engine.dispose()


def test_migrated_but_never_seeded_is_seeded_on_next_use(db_url, first_use):
    """The state a first use killed between its migration and its seeding leaves."""
    with pytest.raises(KeyboardInterrupt):
        open_tracker(db_url, on_new_database=killed_by(KeyboardInterrupt()))
    assert first_use_marks(db_url) == 1
    assert identities(logged_events(db_url)) == first_use
    assert first_use_marks(db_url) == 0
    assert ok(db_url, "verify").stdout.startswith(f"ok: {len(first_use)} events")


def test_a_database_migrated_without_a_first_use_is_left_empty(db_url):
    """`tracker db upgrade`, or a program opening it without seeds: an empty log by choice."""
    ok(db_url, "db", "upgrade")
    open_tracker(db_url).close()
    assert logged_events(db_url) == []
    assert first_use_marks(db_url) == 0


def test_a_first_use_killed_after_seeding_is_finished_without_a_second_copy(db_url, first_use):
    def seeds_then_dies(tracker: Tracker) -> None:
        _on_new_database(tracker)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_tracker(db_url, on_new_database=seeds_then_dies)
    assert first_use_marks(db_url) == 1
    assert identities(logged_events(db_url)) == first_use
    assert first_use_marks(db_url) == 0


def test_a_first_use_killed_while_seeding_leaves_nothing_and_is_redone(db_url, first_use,
                                                                      monkeypatch):
    real = dossier._append_batch
    calls: list[int] = []

    def dies_on_the_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dossier, "_append_batch", dies_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        open_tracker(db_url, on_new_database=_on_new_database)
    monkeypatch.undo()
    tracker = connect(db_url)
    try:
        assert tracker.store.head() == 0
    finally:
        tracker.close()
    assert identities(logged_events(db_url)) == first_use


def test_a_seeded_database_is_not_seeded_again(db_url, first_use):
    before = logged_events(db_url)
    assert identities(before) == first_use
    assert "0 new event(s)" in ok(db_url, "seed").stdout
    assert logged_events(db_url) == before


def test_an_import_target_is_left_as_the_export_made_it(db_url, tmp_path, clock):
    source = open_tracker(f"sqlite:///{tmp_path / 'source.db'}", clock)
    try:
        for n in range(3):
            source.store.append("mine", [NewEvent("test.appended", {"n": n}, APRIL)])
        out = io.StringIO()
        export_events(source.store, out)
    finally:
        source.close()
    path = tmp_path / "log.jsonl"
    path.write_text(out.getvalue())
    ok(db_url, "import", str(path))
    imported = logged_events(db_url)
    assert [e["stream_id"] for e in imported] == ["mine"] * 3  # no seed before them
    assert logged_events(db_url) == imported  # later commands do not seed a log that has events
