"""The store's reads on the caller's connection give exactly what its own reads give."""

from __future__ import annotations

from tracker.app import open_tracker
from tracker.dossier import load_seeds
from tracker.projections import PROJECTIONS
from tracker.projections.fold import wanted_types


def test_reads_on_the_callers_connection_match_the_store(db_url: str, clock) -> None:
    tracker = open_tracker(db_url, clock)
    store = tracker.store
    try:
        load_seeds(tracker)
        with tracker.engine.connect() as conn:
            everything = store.page(after=0, types=None, limit=100_000, conn=conn)
            types = wanted_types(PROJECTIONS["policy_state"])
            some = store.page(after=5, types=types, limit=7, conn=conn)
            head = store.tip(conn=conn)
            by_id = store.by_ids([everything[2].event_id, "no-such-id"], conn=conn)
            counted = store.count(types=types, conn=conn)
            fifth = store.get(5, conn=conn)
        assert everything == list(store.read())
        assert some == list(store.read(after=5, types=sorted(types), limit=7))[:7]
        assert len(some) == 7 and all(e.type in types and e.position > 5 for e in some)
        assert (head.position, head.hash) == (everything[-1].position, everything[-1].hash)
        assert store.head() == head.position
        assert list(by_id) == [everything[2].event_id] and by_id[everything[2].event_id] == \
            everything[2]
        assert counted == sum(1 for e in everything if e.type in types) == store.count(
            types=types)
        assert fifth == everything[4] == store.get(5)
        assert store.get(head.position + 1) is None
        assert store.has_events_after(head.position - 1, [everything[-1].type])
        assert not store.has_events_after(head.position, [e.type for e in everything])
        since = everything[0].occurred_at
        assert [e.position for e in store.read(occurred_since=since)] == [
            e.position for e in everything if e.occurred_at >= since]
    finally:
        tracker.close()


def test_typed_pages_on_postgres_walk_the_index_in_order_within_their_transaction(
        pg_url: str, clock) -> None:
    """Without statistics PostgreSQL plans a page of one type as a bitmap scan of every
    remaining row of it and a sort; tracker's typed reads turn bitmap scans off for their own
    transaction only, so the page walks the (type, position) index in order, and they read the
    same events. (Without the setting this log's page plans as a bitmap scan and a sort here,
    while the server has no statistics for it.)"""
    from datetime import UTC, datetime

    from tracker.events import NewEvent

    tracker = open_tracker(pg_url, clock)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    page = ("EXPLAIN SELECT position FROM events WHERE type = 'context.recorded' "
            "AND position > 0 ORDER BY position LIMIT 5")
    try:
        load_seeds(tracker)
        tracker.store.append_positions("bulk", [NewEvent("test.appended", {"n": n}, at)
                                                for n in range(5000)])
        tracker.store.append_positions("context", [NewEvent("context.recorded", {
            "policy_id": "p", "thread": "t", "title": f"c{n}", "measure_id": f"m{n}"}, at)
            for n in range(200)])
        wanted = sorted(wanted_types(PROJECTIONS["policy_state"]))
        expected = [e.position for e in tracker.store.read()
                    if e.type in wanted]
        with tracker.engine.connect() as conn:
            got = [e.position for e in tracker.store.read(types=wanted, conn=conn,
                                                          page_size=5)]
            during = "\n".join(row[0] for row in conn.exec_driver_sql(page))
            assert conn.exec_driver_sql("SHOW enable_bitmapscan").scalar() == "off"
            conn.rollback()
            assert conn.exec_driver_sql("SHOW enable_bitmapscan").scalar() == "on"
        assert "Bitmap" not in during and "Sort" not in during and "Index" in during, during
        assert got == expected
    finally:
        tracker.close()
