"""The event store contract, run unchanged against SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.support.workers import append_own_stream, contend_one_stream, poll_reader
from tracker import migrate
from tracker.app import connect, open_tracker
from tracker.errors import ConcurrencyError, DuplicateEventError, SchemaError, TrackerError
from tracker.events import NewEvent, deterministic_id
from tracker.store.eventstore import system_clock
from tracker.store.schema import metadata

APRIL = datetime(2025, 4, 1, tzinfo=UTC)


def ev(n: int = 0, *, type: str = "test.appended", event_id: str | None = None,
       occurred: datetime = APRIL, precision: str = "instant", **data: object) -> NewEvent:
    kwargs = {"event_id": event_id} if event_id else {}
    return NewEvent(type, {"n": n, **data}, occurred, precision, {"source": {"id": "t"}},
                    **kwargs)


class StoreContract:
    """Subclasses supply ``url``: a fresh, empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, url, clock):
        tracker = open_tracker(url, clock)
        yield tracker.store
        tracker.close()

    def test_positions_dense_and_versions_per_stream(self, store):
        store.append("a", [ev(1), ev(2)], 0)
        store.append("b", [ev(3)], 0)
        store.append("a", [ev(4)], 2)
        events = list(store.read())
        assert [e.position for e in events] == [1, 2, 3, 4]
        assert [(e.stream_id, e.stream_version) for e in events] == [
            ("a", 1), ("a", 2), ("b", 1), ("a", 3)]
        assert events[0].prev_hash == "0" * 64
        assert all(events[i].prev_hash == events[i - 1].hash for i in range(1, 4))

    def test_expected_version_conflict_appends_nothing(self, store):
        store.append("a", [ev(1)], 0)
        with pytest.raises(ConcurrencyError, match="version 1, expected 0"):
            store.append("a", [ev(2), ev(3)], 0)
        assert store.head() == 1

    def test_batch_is_atomic(self, store):
        good = ev(1)
        with pytest.raises(TrackerError, match="lacks required"):
            store.append("a", [good, NewEvent("policy.tracked", {}, APRIL)])
        assert store.head() == 0
        assert store.get(1) is None

    def test_reappend_identical_is_noop(self, store):
        first = store.append("a", [ev(1, event_id=deterministic_id("x", "1"))], 0)
        again = store.append("a", [ev(1, event_id=deterministic_id("x", "1"))], 0)
        assert [e.position for e in again] == [e.position for e in first] == [1]
        assert store.head() == 1

    def test_reappend_with_other_content_is_refused(self, store):
        store.append("a", [ev(1, event_id=deterministic_id("x", "1"))])
        with pytest.raises(DuplicateEventError, match="different content"):
            store.append("a", [ev(2, event_id=deterministic_id("x", "1"))])
        assert store.head() == 1

    def test_partial_reappend_adds_only_the_new(self, store):
        ids = [deterministic_id("x", str(i)) for i in range(3)]
        store.append("a", [ev(0, event_id=ids[0])])
        out = store.append("a", [ev(i, event_id=ids[i]) for i in range(3)])
        assert [e.position for e in out] == [1, 2, 3]
        assert store.head() == 3

    def test_recorded_at_from_clock_and_never_backwards(self, store, clock):
        store.append("a", [ev(1)])
        clock.advance(days=-1)
        [second] = store.append("a", [ev(2)])
        first = store.get(1)
        assert second.recorded_at >= first.recorded_at

    @pytest.mark.parametrize("total,page", [(25, 10), (20, 10), (3, 1), (0, 5)])
    def test_pagination_boundaries(self, store, total, page):
        for i in range(total):
            store.append(f"s{i % 3}", [ev(i)])
        assert [e.position for e in store.read(page_size=page)] == list(range(1, total + 1))
        assert [e.position for e in store.read(after=5, limit=10, page_size=page)] == \
            list(range(6, min(total, 15) + 1))
        assert list(store.read(after=total, page_size=page)) == []

    def test_filters_stream_type_and_time_axes(self, store, clock):
        store.append("a", [ev(1, occurred=datetime(2022, 1, 1, tzinfo=UTC), precision="year")])
        t1 = clock.advance(hours=1)
        store.append("b", [ev(2, type="other.kind", occurred=APRIL, precision="month")])
        clock.advance(hours=1)
        store.append("a", [ev(3, occurred=datetime(2025, 4, 29, tzinfo=UTC), precision="day")])
        assert [e.data["n"] for e in store.read(stream_id="a")] == [1, 3]
        assert [e.data["n"] for e in store.read(types=["other.kind"])] == [2]
        assert [e.data["n"] for e in store.read(recorded_until=t1)] == [1, 2]
        # the whole of 2022 is over by 2023; April 2025 only once April has ended
        assert [e.data["n"] for e in store.read(occurred_by=datetime(2023, 1, 1, tzinfo=UTC))] \
            == [1]
        by_29 = datetime(2025, 4, 30, tzinfo=UTC)
        assert [e.data["n"] for e in store.read(occurred_by=by_29)] == [1, 3]
        by_may = datetime(2025, 5, 1, tzinfo=UTC)
        assert [e.data["n"] for e in store.read(occurred_by=by_may)] == [1, 2, 3]

    def test_update_and_delete_refused_by_database(self, store):
        store.append("a", [ev(1)])
        for statement in ("UPDATE events SET type = 'x'", "DELETE FROM events"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
                    store.engine.begin() as conn:
                conn.execute(sa.text(statement))
        assert store.get(1).type == "test.appended"

    def test_verify_finds_a_row_changed_behind_the_stores_back(self, store):
        for i in range(5):
            store.append("a", [ev(i)])
        assert store.verify().ok
        with store.engine.begin() as conn:
            if store.engine.dialect.name == "sqlite":
                conn.execute(sa.text("DROP TRIGGER events_no_update"))
            else:
                conn.execute(sa.text("DROP TRIGGER events_no_update_delete ON events"))
            conn.execute(sa.text("UPDATE events SET data = :d WHERE position = 3"),
                         {"d": '{"n": 99}'})
        result = store.verify()
        assert not result.ok
        assert result.first_bad_position == 3
        assert result.checked == 2

    def test_upcaster_lifts_old_version_stored_raw(self, store):
        store.append("ctx", [NewEvent("context.recorded", {
            "policy_id": "p", "thread": "tariffs", "measure_id": "m", "title": "US tariffs",
            "rate": "145%"}, APRIL, "month", schema_version=1)])
        [event] = store.read()
        assert event.schema_version == 2
        assert event.data["value"] == 145 and event.data["unit"] == "percent"
        [raw] = store.read(upcast=False)
        assert raw.schema_version == 1 and raw.data["rate"] == "145%"
        assert store.verify().ok

    def test_schema_matches_metadata(self, store):
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []

    def test_concurrent_writers_on_one_stream(self, url, store):
        ctx = multiprocessing.get_context("spawn")
        workers, each = 3, 15
        with ctx.Pool(workers) as pool:
            won = pool.starmap(contend_one_stream,
                               [(url, w, each) for w in range(workers)])
        versions = sorted(v for w in won for v in w)
        assert versions == list(range(1, workers * each + 1))
        events = list(store.read(stream_id="shared"))
        assert sorted((e.data["worker"], e.data["n"]) for e in events) == sorted(
            (w, n) for w in range(workers) for n in range(each))
        assert store.verify().ok

    def test_reader_never_sees_a_gap_while_writers_append(self, url, store):
        ctx = multiprocessing.get_context("spawn")
        writers, batches, size = 3, 20, 5
        total = writers * batches * size
        with ctx.Pool(writers + 1) as pool:
            reader = pool.apply_async(poll_reader, (url, total, 60.0))
            results = [pool.apply_async(append_own_stream, (url, w, batches, size))
                       for w in range(writers)]
            assert sum(r.get(timeout=90) for r in results) == total
            polls = reader.get(timeout=90)
        seen = [p for poll in polls for p in poll]
        assert seen == list(range(1, total + 1))
        assert store.verify().ok


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def url(self, sqlite_url):
        return sqlite_url

    def test_wal_mode(self, store):
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def url(self, pg_url):
        return pg_url


def test_new_database_is_migrated_on_first_use(db_url):
    tracker = open_tracker(db_url)
    assert migrate.current_revision(tracker.engine) == migrate.head_revision()
    tracker.close()


def test_database_behind_head_is_refused_with_the_fix(db_url):
    tracker = open_tracker(db_url)
    with tracker.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
    tracker.close()
    with pytest.raises(SchemaError, match="tracker db upgrade"):
        open_tracker(db_url)


def test_connect_does_not_touch_schema(sqlite_url):
    tracker = connect(sqlite_url, system_clock)
    assert migrate.current_revision(tracker.engine) is None
    tracker.close()
