"""The catalogue documents what tracker really records: every event the application writes
(seeds, feeds, ingest, corrections) uses a catalogued type, its current version, and only
catalogued fields, with the required ones present."""

from __future__ import annotations

import pytest

from tests.support.paths import SAMPLE_FEEDS as SAMPLES
from tracker import catalogue, dossier, feeds
from tracker.app import open_tracker
from tracker.ingest.run import ingest


@pytest.fixture
def busy_log(sqlite_url, clock, tmp_path):
    tracker = open_tracker(sqlite_url, clock)
    dossier.load_seeds(tracker)
    for path in sorted(SAMPLES.glob("*.xml")):
        feeds.add_feed(tracker, path.stem, str(path), "1h", ("sample",), allow_local=True)
    feeds.add_feed(tracker, "gone", str(tmp_path / "missing.xml"), allow_local=True)
    ingest(tracker)
    agreement = next(e for e in tracker.store.read(types=["agreement.signed"]))
    dossier.correct(tracker, agreement.position, {"project_count": 52}, "official list")
    tariff = next(e for e in tracker.store.read(types=["context.recorded"]))
    dossier.retract(tracker, tariff.position, "superseded")
    feeds.remove_feed(tracker, "gone")
    yield tracker
    tracker.close()


def test_every_recorded_event_matches_the_catalogue(busy_log):
    seen: set[str] = set()
    for event in busy_log.store.read():
        spec = catalogue.spec(event.type)
        seen.add(event.type)
        assert event.schema_version == spec.version, event.type
        extra = set(event.data) - set(spec.fields)
        assert not extra, f"{event.type} records fields not in the catalogue: {sorted(extra)}"
        assert not catalogue.missing_fields(event.type, event.data), event.type
    # the run above exercised the dossier, feed, news and correction families
    assert {"policy.tracked", "feed.subscribed", "feed.failed", "item.recorded",
            "item.classified", "story.created", "story.corroborated", "fact.extracted",
            "event.retracted", "feed.unsubscribed"} <= seen
