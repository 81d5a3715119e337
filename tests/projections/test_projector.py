"""The projector and the dossier's views of the log, on both databases.

Stored projections must equal a fresh rebuild and an in-memory fold of the whole log; the
checkpoint is the position of the last event applied; a failure mid-batch leaves the previous
state; views as of a past date (recorded time and world time) show only what was in view.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.paths import SEED_FILE
from tracker import dossier
from tracker.app import Tracker, open_tracker
from tracker.catalogue import RETRACTED
from tracker.events import NewEvent, RecordedEvent
from tracker.projections import PROJECTIONS
from tracker.projections.base import Doc, Projection
from tracker.projections.fold import fold_all, wanted_types
from tracker.projector import Projector, load_docs
from tracker.seeding import default_subscription_events, load_seed_file
from tracker.store.schema import projection_checkpoints, projection_rows
from tracker.when import parse_when

POLICY = "hk-zhejiang-supply-chain"
T1 = datetime(2026, 1, 1, tzinfo=UTC)


class Boom(RuntimeError):
    pass


class Wrapped(Projection):
    """A projection that delegates to another, counts evolve calls per event position, can
    fail on one position and can claim another version."""

    def __init__(self, inner: Projection, fail_at: int | None = None,
                 version: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.types = inner.types
        self.version = inner.version if version is None else version
        self.fail_at = fail_at
        self.calls: Counter[int] = Counter()

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        return self.inner.keys(event)

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.position == self.fail_at:
            raise Boom(f"fault injected at position {event.position}")
        self.calls[event.position] += 1
        return self.inner.evolve(doc, event)

    def sort_key(self, key: str, doc: Doc) -> str:
        return self.inner.sort_key(key, doc)


# -- helpers -----------------------------------------------------------------------------------

@pytest.fixture
def tracker(db_url, clock) -> Iterator[Tracker]:
    t = open_tracker(db_url, clock)
    yield t
    t.close()


def seed_pairs() -> list[tuple[str, NewEvent]]:
    return load_seed_file(SEED_FILE)


def append_pairs(tracker: Tracker, pairs: Iterable[tuple[str, NewEvent]]) -> None:
    """Append in order, one call per run of events on the same stream."""
    run: list[NewEvent] = []
    stream: str | None = None
    for s, event in pairs:
        if s != stream and run:
            tracker.store.append(stream, run)  # type: ignore[arg-type]
            run = []
        stream = s
        run.append(event)
    if run:
        tracker.store.append(stream, run)  # type: ignore[arg-type]


def position_of(tracker: Tracker, seed_key: str) -> int:
    found = [e.position for e in tracker.store.read() if e.meta.get("seed_key") == seed_key
             and "corrects" not in e.meta]
    assert len(found) == 1, seed_key
    return found[0]


def news_pairs() -> list[tuple[str, NewEvent]]:
    """A story with extracted facts, so the news paths of the folds are exercised too."""
    when = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
    story = {"story_id": "st-1", "policy_id": POLICY}
    return [
        ("story:st-1", NewEvent("story.created", {
            **story, "title": "Mechanism begins operating", "item_key": "guid:1",
            "url": "https://example.org/a", "published": "2025-06-02T08:00:00Z",
            "feed": "hkgov-press-en"}, when)),
        ("story:st-1", NewEvent("fact.extracted", {
            **story, "kind": "project_count",
            "value": {"count": 51, "agreement_id": "visit-project-agreements"},
            "sentence": "51 projects were signed.", "confidence": 0.9}, when)),
        ("story:st-1", NewEvent("fact.extracted", {
            **story, "kind": "tariff_rate", "value": {"value": 125, "unit": "percent"},
            "sentence": "Tariffs now stand at 125%.", "confidence": 0.8}, when)),
        ("story:st-1", NewEvent("fact.extracted", {
            **story, "kind": "mechanism_status", "value": "launched",
            "sentence": "The mechanism was launched.", "confidence": 0.7}, when)),
        ("story:st-1", NewEvent("story.corroborated", {
            "story_id": "st-1", "item_key": "guid:2", "feed": "the-standard-hk",
            "link": "https://example.org/b", "title": "Mechanism up and running",
            "similarity": 0.8}, when)),
    ]


def feed_pairs() -> list[tuple[str, NewEvent]]:
    pairs = default_subscription_events()
    assert pairs, "the shipped feed list is empty"
    name = pairs[0][1].data["name"]
    when = datetime(2025, 6, 3, tzinfo=UTC)
    return pairs + [
        (f"feed:{name}", NewEvent("feed.failed", {"name": name, "error": "timeout",
                                                  "consecutive_failures": 1}, when)),
        (f"feed:{name}", NewEvent("feed.recovered", {"name": name, "after_failures": 1}, when)),
    ]


def stored(tracker: Tracker, name: str) -> dict[str, Doc]:
    return dict(load_docs(tracker.engine, name))


def folded(tracker: Tracker, projection: Projection, until: int | None = None) -> dict[str, Doc]:
    events = list(tracker.store.read(until_position=until))
    return json.loads(json.dumps(fold_all(projection, events)))


def last_wanted(tracker: Tracker, projection: Projection) -> int:
    return max((e.position for e in tracker.store.read(types=sorted(wanted_types(projection)))),
               default=0)


def table_rows(tracker: Tracker) -> tuple[list[Any], list[Any]]:
    with tracker.engine.connect() as conn:
        rows = conn.execute(sa.select(projection_rows).order_by(
            projection_rows.c.projection, projection_rows.c.key)).all()
        checkpoints = conn.execute(sa.select(projection_checkpoints).order_by(
            projection_checkpoints.c.projection)).all()
    return ([tuple(r) for r in rows], [tuple(r) for r in checkpoints])


def source_positions(value: Any) -> set[int]:
    """Every position cited in a ``sources`` list anywhere inside a report."""
    found: set[int] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("sources") and isinstance(v, list):
                found |= {int(s["position"]) for s in v if isinstance(s, dict)}
            found |= source_positions(v)
    elif isinstance(value, list):
        for v in value:
            found |= source_positions(v)
    return found


def facts_by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [policy] = report["policies"]
    return {f["key"]: f for f in policy["facts"]}


# -- rebuild equals incremental ----------------------------------------------------------------

def test_rebuild_equals_incremental_for_every_projection(tracker, clock):
    projector = dossier.projector(tracker)
    pairs = seed_pairs()

    append_pairs(tracker, pairs[:20])
    projector.catch_up()
    # the target of this retraction was applied in an earlier batch
    dossier.retract(tracker, position_of(tracker, "fact-purpose"), "test: withdrawn")
    projector.catch_up(batch_size=3)

    append_pairs(tracker, pairs[20:40])
    clock.advance(hours=1)
    # corrected before its target was ever projected: target and retraction share a batch
    dossier.correct(tracker, position_of(tracker, "agreement-projects"),
                    {"project_count": 52}, "test: official list")
    dossier.retract(tracker, position_of(tracker, "actor-nvidia"), "test: withdrawn")
    projector.catch_up(batch_size=4)

    append_pairs(tracker, pairs[40:])
    append_pairs(tracker, news_pairs())
    projector.catch_up()
    append_pairs(tracker, feed_pairs())
    dossier.retract(tracker, position_of(tracker, "party-zhejiang-government"), "test")
    dossier.retract(tracker, position_of(tracker, "context-us-tariffs"), "test")
    news = [e for e in tracker.store.read(types=["fact.extracted"])]
    dossier.retract(tracker, news[0].position, "test: misread")
    projector.catch_up(batch_size=5)

    incremental = {name: stored(tracker, name) for name in PROJECTIONS}
    checkpoints = {name: projector.checkpoint(name) for name in PROJECTIONS}
    for name, projection in PROJECTIONS.items():
        assert incremental[name] == folded(tracker, projection), name
        assert checkpoints[name] is not None
        assert checkpoints[name].position == last_wanted(tracker, projection), name
    # the log reaches every projection, so the comparison is not between empty states
    assert all(incremental[name] for name in PROJECTIONS if
               any(e.type in PROJECTIONS[name].types for e in tracker.store.read()))

    rebuilt_positions = projector.rebuild()
    for name in PROJECTIONS:
        assert stored(tracker, name) == incremental[name], name
        assert rebuilt_positions[name] == checkpoints[name].position, name


# -- the checkpoint ----------------------------------------------------------------------------

def test_checkpoint_is_last_event_applied_not_the_log_head(tracker):
    projector = dossier.projector(tracker)
    append_pairs(tracker, seed_pairs()[:20])  # ends with actor.identified events
    result = projector.catch_up()
    head = tracker.store.head()
    for name, projection in PROJECTIONS.items():
        expected = last_wanted(tracker, projection)
        assert result[name] == expected, name
        checkpoint = projector.checkpoint(name)
        assert checkpoint is not None and checkpoint.position == expected, name
        assert checkpoint.version == projection.version
    # policy_state reads no actor.identified: its checkpoint stops short of the head
    assert projector.checkpoint("policy_state").position < head
    assert projector.checkpoint("actors").position == head


def test_catch_up_twice_changes_nothing(tracker, clock):
    wrapped = {name: Wrapped(p) for name, p in PROJECTIONS.items()}
    projector = Projector(tracker.store, wrapped, tracker.clock)
    append_pairs(tracker, seed_pairs())
    first = projector.catch_up()
    before = table_rows(tracker)
    assert before[0], "nothing was projected"
    log = list(tracker.store.read())
    for w in wrapped.values():
        # each event is folded once into each document it touches
        assert w.calls == Counter({e.position: len(list(w.keys(e))) for e in log
                                   if e.type in w.types and list(w.keys(e))}), w.name
        w.calls.clear()

    clock.advance(hours=2)
    second = projector.catch_up()
    assert second == first
    assert table_rows(tracker) == before
    assert all(not w.calls for w in wrapped.values())


def test_crash_mid_batch_keeps_previous_checkpoint_and_rows(tracker):
    faulty = Wrapped(PROJECTIONS["policy_state"])
    projector = Projector(tracker.store, {"policy_state": faulty}, tracker.clock)
    pairs = seed_pairs()
    append_pairs(tracker, pairs[:20])
    projector.catch_up()
    start = projector.checkpoint("policy_state").position
    assert start == last_wanted(tracker, faulty) > 0
    rows_before = table_rows(tracker)

    append_pairs(tracker, pairs[20:])
    fail_at = position_of(tracker, "agreement-projects")
    faulty.fail_at = fail_at

    # one batch holds every pending event: nothing of it may stay
    with pytest.raises(Boom):
        projector.catch_up()
    assert projector.checkpoint("policy_state").position == start
    assert table_rows(tracker) == rows_before

    # small batches: those before the failing one commit, the failing one does not
    size = 5
    pending = [e.position for e in tracker.store.read(
        after=start, types=sorted(wanted_types(faulty)))]
    committed = pending[: (pending.index(fail_at) // size) * size]
    assert committed, "the fault should fall after the first small batch"
    with pytest.raises(Boom):
        projector.catch_up(batch_size=size)
    reached = projector.checkpoint("policy_state").position
    assert reached == committed[-1] < fail_at
    assert stored(tracker, "policy_state") == folded(tracker, faulty.inner, until=reached)

    # the fault is gone: a later catch_up applies each remaining event exactly once
    faulty.fail_at = None
    faulty.calls.clear()
    projector.catch_up()
    assert projector.checkpoint("policy_state").position == last_wanted(tracker, faulty)
    assert stored(tracker, "policy_state") == folded(tracker, faulty.inner)
    remaining = [p for p in pending if p > reached]
    assert sorted(faulty.calls) == remaining
    assert set(faulty.calls.values()) == {1}


def test_changed_version_is_rebuilt_on_next_catch_up(tracker):
    projector = dossier.projector(tracker)
    append_pairs(tracker, seed_pairs())
    projector.catch_up()
    key, _doc = load_docs(tracker.engine, "timeline")[0]
    with tracker.engine.begin() as conn:
        conn.execute(projection_rows.update().where(
            projection_rows.c.projection == "timeline", projection_rows.c.key == key).values(
            doc={"tampered": True}))
    policy_rows = stored(tracker, "policy_state")

    # same version, nothing pending: the stored rows are trusted as they are
    projector.catch_up()
    assert stored(tracker, "timeline")[key] == {"tampered": True}

    timeline = PROJECTIONS["timeline"]
    bumped = Wrapped(timeline, version=timeline.version + 1)
    Projector(tracker.store, {**PROJECTIONS, "timeline": bumped}, tracker.clock).catch_up()
    assert stored(tracker, "timeline") == folded(tracker, timeline)
    assert stored(tracker, "timeline")[key] != {"tampered": True}
    checkpoint = projector.checkpoint("timeline")
    assert checkpoint.version == timeline.version + 1
    assert checkpoint.position == last_wanted(tracker, timeline)
    timeline_positions = [e.position for e in tracker.store.read(types=sorted(timeline.types))]
    assert sorted(bumped.calls) == timeline_positions
    assert stored(tracker, "policy_state") == policy_rows


# -- as of, on both time axes ------------------------------------------------------------------

CONTEXT_BEFORE_2025 = {
    "context.export_controls.us-nvidia-export-ban-2022",  # year 2022
    "context.trade_status.hk-free-trade-status",  # undated: in every world-as-of
    "context.capital_flows.hk-no-fx-controls",  # undated
}


def test_world_as_of_2024_shows_only_older_context(tracker, clock):
    dossier.load_seeds(tracker)
    report = dossier.status(tracker, world_as_of=parse_when("2024", clock()))
    [policy] = report["policies"]
    assert set(facts_by_key(report)) == CONTEXT_BEFORE_2025
    assert policy["status"] is None
    assert not any(k.startswith("agreement.") for k in facts_by_key(report))
    assert policy["parties"] == [] and policy["open_questions"] == []
    ban = facts_by_key(report)["context.export_controls.us-nvidia-export-ban-2022"]
    assert ban["value"]["since"] == "2022"
    assert "Nvidia" in ban["value"]["title"]
    assert ban["sources"][0]["position"] == position_of(tracker, "context-nvidia-export-ban")
    # the last event in view is the later of the two undated context entries
    assert report["position"] == position_of(tracker, "context-hk-no-fx-controls")
    assert report["world_as_of"].startswith("2025-01-01T00:00:00")


def test_world_as_of_month_precision_needs_the_month_to_end(tracker, clock):
    dossier.load_seeds(tracker)
    now = clock()

    mid_april = dossier.status(tracker, world_as_of=parse_when("2025-04-15", now))
    assert set(facts_by_key(mid_april)) == CONTEXT_BEFORE_2025
    assert mid_april["policies"][0]["status"] is None

    # the end of 30 April is the end of April: April-precision facts are in view
    end_april = dossier.status(tracker, world_as_of=parse_when("2025-04-30", now))
    facts = facts_by_key(end_april)
    assert end_april["policies"][0]["status"] == "announced"
    assert facts["agreement.visit-project-agreements"]["value"]["project_count"] == 50
    assert {"purpose", "sectors", "context.tariffs.us-tariffs-china"} <= set(facts)
    month = dossier.status(tracker, world_as_of=parse_when("2025-04", now))
    # the same state; only the words for the bound differ ("end of 2025-04-30", "of 2025-04")
    assert {**end_april, "world_as_of_label": ""} == {**month, "world_as_of_label": ""}
    # the "recent" curbs carry the article's estimated date (May 2025): certain once May is over
    assert "context.export_controls.us-nvidia-tightening-recent" not in facts
    assert "context.export_controls.us-nvidia-tightening-recent" not in facts_by_key(
        dossier.status(tracker, world_as_of=parse_when("2025-05-30", now)))
    may_end = dossier.status(tracker, world_as_of=parse_when("2025-05", now))
    assert "context.export_controls.us-nvidia-tightening-recent" in facts_by_key(may_end)
    assert facts_by_key(may_end).keys() == facts_by_key(dossier.status(tracker)).keys()


def test_as_of_before_the_seeds_were_recorded_shows_no_policies(tracker, clock):
    assert clock() == T1
    dossier.load_seeds(tracker)  # recorded at T1 exactly
    now = clock.advance(days=30)
    for before in ("2025-12-31", "2025-12-31T23:59:59.999999Z"):
        report = dossier.status(tracker, as_of=parse_when(before, now))
        assert report["policies"] == [] and report["position"] == 0
    at = dossier.status(tracker, as_of=parse_when("2026-01-01T00:00:00Z", now))
    assert [p["id"] for p in at["policies"]] == [POLICY]
    assert at["policies"] == dossier.status(tracker)["policies"]


def test_as_of_between_two_loads_shows_only_the_first(tracker, clock, tmp_path):
    doc = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    first_keys = [e["key"] for e in doc["events"][:11]]  # policy, status, facts, parties, question
    part = copy.deepcopy(doc)
    part["events"] = doc["events"][:11]
    del part["rules"]  # its rules file is not next to the copy; the full load records them
    part_file = tmp_path / "part.json"
    part_file.write_text(json.dumps(part), encoding="utf-8")

    first = dossier.load_seeds(tracker, [part_file])
    assert (first.appended, first.already) == (11, 0)
    clock.advance(days=31)  # 2026-02-01
    second = dossier.load_seeds(tracker, [SEED_FILE])
    assert (second.appended, second.already) == (len(doc["events"]) - 11 + 1, 11)  # + rules

    now = clock.advance(days=1)
    mid = dossier.status(tracker, as_of=parse_when("2026-01-15", now))
    facts = facts_by_key(mid)
    assert set(facts) == {"purpose", "announced_venue", "announced_at", "hong_kong_role",
                          "zhejiang_strength", "sectors"}
    [policy] = mid["policies"]
    assert policy["status"] == "announced"
    # the actors were identified in the second load: only their ids are known then
    assert policy["parties"] == ["hksar-government", "zhejiang-government"]
    assert len(policy["open_questions"]) == 1
    assert source_positions(mid) <= {position_of(tracker, k) for k in first_keys}

    full = dossier.status(tracker, as_of=parse_when("2026-02-01", now))
    assert "agreement.visit-project-agreements" in facts_by_key(full)
    assert full["policies"][0]["parties"] == ["HKSAR Government", "Zhejiang provincial government"]


# -- retraction and correction -----------------------------------------------------------------

def test_retraction_removes_fact_and_source_but_log_keeps_both(tracker, clock):
    dossier.load_seeds(tracker)
    target = position_of(tracker, "fact-purpose")
    before = dossier.status(tracker)
    assert "purpose" in facts_by_key(before) and target in source_positions(before)

    clock.advance(days=1)
    retraction = dossier.retract(tracker, target, "misreported")
    after = dossier.status(tracker)
    assert "purpose" not in facts_by_key(after)
    assert target not in source_positions(after)
    assert set(facts_by_key(after)) == set(facts_by_key(before)) - {"purpose"}
    # the in-memory views agree with the stored projection
    now = clock()
    assert "purpose" not in facts_by_key(dossier.status(tracker, as_of=parse_when("now", now)))
    assert "purpose" not in facts_by_key(
        dossier.status(tracker, world_as_of=parse_when("2025-04", now)))
    # as of before the retraction, the fact still stood
    assert "purpose" in facts_by_key(
        dossier.status(tracker, as_of=parse_when("2026-01-01", now)))
    timeline_positions = {d["position"] for _k, d in load_docs(tracker.engine, "timeline")}
    assert target not in timeline_positions

    log = {e.position: e for e in tracker.store.read()}
    assert log[target].type == "policy.fact_asserted" and log[target].data["key"] == "purpose"
    assert log[retraction.position].type == RETRACTED
    assert log[retraction.position].data["target_position"] == target


def test_correcting_project_count_replaces_value_and_cites_replacement(tracker, clock):
    dossier.load_seeds(tracker)
    target = position_of(tracker, "agreement-projects")
    key = "agreement.visit-project-agreements"
    before = facts_by_key(dossier.status(tracker))[key]
    assert before["value"]["project_count"] == 50
    assert [s["position"] for s in before["sources"]] == [target]

    clock.advance(days=1)
    retraction, replacement = dossier.correct(tracker, target, {"project_count": 52},
                                              "official list has 52")
    assert retraction.type == RETRACTED and retraction.data["target_position"] == target
    assert replacement.type == "agreement.signed" and replacement.meta["corrects"] == target
    assert replacement.position > retraction.position

    report = dossier.status(tracker)
    after = facts_by_key(report)[key]
    assert after["value"]["project_count"] == 52
    assert [s["position"] for s in after["sources"]] == [replacement.position]
    assert target not in source_positions(report)
    assert {k: v for k, v in after["value"].items() if k != "project_count"} == \
        {k: v for k, v in before["value"].items() if k != "project_count"}
    # the replacement keeps the original's citation
    assert after["sources"][0]["citation"] == before["sources"][0]["citation"]

    now = clock()
    in_memory = facts_by_key(dossier.status(tracker, as_of=parse_when("now", now)))[key]
    assert in_memory["value"]["project_count"] == 52
    earlier = facts_by_key(dossier.status(tracker, as_of=parse_when("2026-01-01", now)))[key]
    assert earlier["value"]["project_count"] == 50
