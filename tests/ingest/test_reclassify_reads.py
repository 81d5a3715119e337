"""``reclassify`` reads the stories once, however many items become relevant.

It used to read ``Known`` again (and copy it) for each item that became relevant, and to
record each changed decision in a transaction of its own: quadratic in the stories. It now
decides every item first and records the changes in batches, each batch reading only what was
appended since the last (docs/performance.md, "Reclassify").
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.feed_server import FeedServer
from tests.support.paths import ROOT
from tracker import reclassify
from tracker.app import Tracker, open_tracker
from tracker.catalogue import STORY_CREATED
from tracker.dossier import load_seeds
from tracker.feeds import add_feed
from tracker.ingest import relevance
from tracker.ingest.run import ingest
from tracker.rules_log import rules_by_policy


def _strict() -> relevance.Rules:
    """The shipped rules at a threshold no sample item reaches."""
    text = (ROOT / "seeds" / "relevance.toml").read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^threshold = \d+$", "threshold = 60", text)
    assert n >= 1
    text = re.sub(r'(?m)^version = ".*"$', 'version = "strict.1"', text)
    return relevance.parse_rules(text, "strict")


@pytest.fixture
def tracker(sqlite_url: str, server: FeedServer) -> Any:
    tracker = open_tracker(sqlite_url)
    load_seeds(tracker)
    for name, url in server.serve_samples().items():
        add_feed(tracker, name, url, allow_private=True)  # the loopback server
    policies = rules_by_policy(tracker)
    ingest(tracker, due_only=False, rules={policy: _strict() for policy in policies})
    yield tracker
    tracker.close()


def test_reclassify_reads_the_stories_once(tracker: Tracker,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reclassify, "RECLASSIFY_BATCH", 3)  # several transactions
    reads: list[dict[str, Any]] = []
    real_read = tracker.store.read

    def read(**kwargs: Any) -> Any:
        if STORY_CREATED in (kwargs.get("types") or ()):
            reads.append(kwargs)
        return real_read(**kwargs)

    monkeypatch.setattr(tracker.store, "read", read)

    result = reclassify.reclassify(tracker)

    assert result.newly_relevant >= 9  # three batches at least, each with new stories
    whole = [r for r in reads if r.get("after") is None]
    assert len(whole) == 1  # the stories of the window, read once
    batches = -(-result.changed // 3)
    assert len(reads) <= batches  # then only what each batch finds appended since
    assert all(r.get("after") for r in reads if r is not whole[0])


def test_reclassify_records_every_change_once(tracker: Tracker,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reclassify, "RECLASSIFY_BATCH", 4)
    first = reclassify.reclassify(tracker)
    created = list(tracker.store.read(types=[STORY_CREATED]))

    again = reclassify.reclassify(tracker)

    assert first.changed > 0 and again.changed == 0
    assert list(tracker.store.read(types=[STORY_CREATED])) == created
    ids = [event.event_id for event in tracker.store.read()]
    assert len(ids) == len(set(ids))
