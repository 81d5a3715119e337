"""The projector's own row decoding gives exactly the events the store reads."""

from __future__ import annotations

from tracker.app import open_tracker
from tracker.dossier import load_seeds
from tracker.projections import PROJECTIONS
from tracker.projections.fold import wanted_types
from tracker.projector import read_events_in


def test_read_events_in_matches_the_store(db_url: str, clock) -> None:
    tracker = open_tracker(db_url, clock)
    try:
        load_seeds(tracker)
        with tracker.engine.connect() as conn:
            everything = read_events_in(conn, after=0, types=None, limit=100_000)
            types = wanted_types(PROJECTIONS["policy_state"])
            some = read_events_in(conn, after=5, types=types, limit=7)
        assert everything == list(tracker.store.read())
        assert some == list(tracker.store.read(after=5, types=sorted(types), limit=7))[:7]
        assert len(some) == 7 and all(e.type in types and e.position > 5 for e in some)
    finally:
        tracker.close()
