"""Undated background, and how the record says what it knows about a date (issue 9).

The article says Hong Kong has no exchange controls but not since when: such background is
``undated``, stored at a fixed instant, shown as "undated" and in view in every world-as-of.
What the article reports without a date carries its own (estimated) date, shown as estimated;
notes on dates, the source's date note and the seed's inferences reach every format.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.clock import FakeClock
from tests.support.markdown import as_read
from tracker import dossier
from tracker.app import Tracker, open_tracker
from tracker.cli import main
from tracker.dates import (
    PRECISIONS,
    UNDATED_AT,
    date_label,
    iso,
    parse_date,
    period_end,
    precision_of,
    truncate,
)
from tracker.errors import TrackerError, UsageError
from tracker.events import GENESIS_HASH, NewEvent, canonical_json, chain_hash
from tracker.transfer import export_events, import_events
from tracker.when import parse_when

NOW = datetime(2026, 1, 1, tzinfo=UTC)
UNDATED_FACTS = {"context.trade_status.hk-free-trade-status",
                 "context.capital_flows.hk-no-fx-controls"}
UNDATED_KEYS = {"context-hk-free-trade", "context-hk-no-fx-controls"}


# -- the precision ---------------------------------------------------------------------------------

def test_undated_is_a_precision_with_a_fixed_instant() -> None:
    assert "undated" in PRECISIONS
    assert parse_date("undated") == (UNDATED_AT, "undated")
    assert precision_of("undated") == "undated"
    some_day = datetime(2025, 4, 30, 12, tzinfo=UTC)
    assert truncate(some_day, "undated") == UNDATED_AT
    assert period_end(UNDATED_AT, "undated") == UNDATED_AT
    assert date_label(UNDATED_AT, "undated") == "undated"
    # whatever instant is passed, an undated event is stored at the sentinel
    event = NewEvent("context.recorded", {}, some_day, "undated")
    assert event.occurred_at == UNDATED_AT
    # its period has ended by any world date asked about
    for when in ("1900", "1970-01-01", "2024", "2025-04"):
        assert period_end(UNDATED_AT, "undated") <= parse_when(when, NOW).before


#: The digest of one month-precision event as the code before ``undated`` computed it.
_PINNED = "e8e6aa961847b8979bb9443dcc845e5e88c43c938a8e7de85e67755b534679cd"


def test_the_hash_chain_of_existing_events_is_unchanged(tmp_path) -> None:
    april, recorded = datetime(2025, 4, 17, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    event = NewEvent("check.pinned", {"value": 145, "unit": "percent"}, april, "month",
                     {"actor": "seed"}, "e-1", 2)
    assert chain_hash(GENESIS_HASH, position=1, event_id="e-1", stream_id="dossier:x",
                      stream_version=1, type=event.type, schema_version=2,
                      occurred_at=iso(event.occurred_at), occurred_precision="month",
                      recorded_at=iso(recorded), data_json=canonical_json(event.data),
                      meta_json=canonical_json(event.meta)) == _PINNED
    tracker = open_tracker(f"sqlite:///{tmp_path / 'pinned.db'}", FakeClock(recorded))
    try:
        [stored] = tracker.store.append("dossier:x", [event])
        assert stored.hash == _PINNED
    finally:
        tracker.close()


def test_undated_is_no_when_to_ask_about() -> None:
    with pytest.raises(UsageError, match="cannot read WHEN 'undated'"):
        parse_when("undated", NOW)


# -- in the store and every world-as-of, on SQLite and PostgreSQL ----------------------------------

@pytest.fixture
def seeded(db_url: str) -> Iterator[Tracker]:
    tracker = open_tracker(db_url, FakeClock(NOW))
    dossier.load_seeds(tracker)
    yield tracker
    tracker.close()


def _facts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for p in report["policies"] for f in p["facts"]}


def test_undated_events_are_in_every_world_as_of(seeded: Tracker) -> None:
    for when in ("1900", "1950-06-01", "2022", "2024", "2025-04-15", "2025-04", "2025-05",
                 "2030", "7d"):
        facts = _facts(dossier.status(seeded, world_as_of=parse_when(when, NOW)))
        assert set(facts) >= UNDATED_FACTS, when
        for key in UNDATED_FACTS:
            assert (facts[key]["occurred_at"], facts[key]["precision"]) == (
                "undated", "undated"), when
            assert facts[key]["occurred_note"] == "the article gives no date"
    # before the visit, only background and the 2022 bans are in view
    early = _facts(dossier.status(seeded, world_as_of=parse_when("2025-04-15", NOW)))
    assert set(early) == UNDATED_FACTS | {"context.export_controls.us-nvidia-export-ban-2022"}
    assert set(_facts(dossier.status(seeded))) >= UNDATED_FACTS
    assert set(_facts(dossier.status(seeded, as_of=parse_when("now", NOW)))) >= UNDATED_FACTS


def test_undated_events_in_the_store(seeded: Tracker) -> None:
    undated = [e for e in seeded.store.read() if e.occurred_precision == "undated"]
    assert {e.meta["seed_key"] for e in undated} == UNDATED_KEYS
    assert all(e.occurred_at == UNDATED_AT == e.occurred_until for e in undated)
    ids = {e.event_id for e in undated}
    # "had it happened by 1900?" yes; "did it happen since 2000?" cannot be said
    by = {e.event_id for e in seeded.store.read(occurred_by=datetime(1900, 1, 1, tzinfo=UTC))}
    assert by == ids
    since = seeded.store.read(occurred_since=datetime(2000, 1, 1, tzinfo=UTC))
    assert not ids & {e.event_id for e in since}
    assert seeded.store.verify().ok


def test_undated_events_survive_export_and_import(seeded: Tracker, tmp_path) -> None:
    out = io.StringIO()
    export_events(seeded.store, out)
    lines = out.getvalue().splitlines(keepends=True)
    undated = [json.loads(line) for line in lines[1:]
               if json.loads(line)["occurred_precision"] == "undated"]
    assert {e["occurred_at"] for e in undated} == {iso(UNDATED_AT)}

    copy = open_tracker(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        result = import_events(copy, lines)
        assert result.imported == len(lines) - 1
        assert copy.store.verify().ok
        assert [e.as_dict() for e in copy.store.read(upcast=False)] == [
            e.as_dict() for e in seeded.store.read(upcast=False)]
    finally:
        copy.close()

    # an undated event claiming another instant is refused, naming the line
    bad = list(lines)
    i = next(n for n, line in enumerate(bad)
             if n and json.loads(line)["occurred_precision"] == "undated")
    event = json.loads(bad[i])
    event["occurred_at"] = "1997-01-01T00:00:00.000000Z"
    bad[i] = json.dumps(event) + "\n"
    other = open_tracker(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with pytest.raises(TrackerError, match=rf"line {i + 1}: an undated event's occurred_at"):
            import_events(other, bad)
    finally:
        other.close()


# -- what the output says: notes, estimates, bounds, inferences ------------------------------------

def _ok(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--database-url", url, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _flat(text: str) -> str:
    """Rendered text with wrapped lines joined, so a phrase can be found across a wrap, and
    Markdown's escapes taken out (a no-op on plain text without backslashes)."""
    return " ".join(as_read(text).split())


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_status_shows_notes_estimates_bounds_and_inferences(sqlite_url: str, fmt: str) -> None:
    text = _flat(_ok(sqlite_url, "status", "--format", fmt))
    # "as high as 145%" is a bound, not a level
    assert "up to 145%" in text
    # undated background says so, with why
    assert text.count("(undated: the article gives no date)") == 2
    # commentary and the "recent" curbs carry the article's own date, shown as estimated
    assert text.count("(dated 2025-05, estimated: the article's own date, as it gives none)") >= 6
    assert "(dated 2025-05, estimated: called recent, with no date" in text
    # the seed's notes on dates, and the fact notes
    assert "late April, no day given; year from the source's estimated date" in text
    assert "the article does not say at which place or event it was agreed" in text
    # the seed's own inference is marked, the chip outcome attributed to the article
    assert "(The source article)" in text
    assert "the seed's inference, not stated as such in the source" in text
    assert "(Investors (unnamed))" in text
    # the source's date and how it is known
    assert "2025-05 (estimate: the text has no dateline" in text
    # the mechanism was agreed, not signed
    assert "agreement: Hong Kong and Zhejiang agree to set up" in text
    assert "Ningbo, Zhejiang" not in text.split("agree to set up")[1].split("[#")[0]


def test_status_json_carries_dating_on_every_entry(db_url: str) -> None:
    report = json.loads(_ok(db_url, "status", "--format", "json"))
    [policy] = report["policies"]
    facts = {f["key"]: f for f in policy["facts"]}
    for fact in facts.values():
        assert {"occurred_at", "precision", "occurred_note", "estimated", "stated"} <= set(fact)
    for key in UNDATED_FACTS:
        assert (facts[key]["occurred_at"], facts[key]["precision"]) == ("undated", "undated")
    tariff = facts["context.tariffs.us-tariffs-china"]
    assert (tariff["value"]["value"], tariff["value"]["qualifier"]) == (145, "up_to")
    assert tariff["value"]["slot"] == "tariff:us:china"
    assert tariff["occurred_note"].startswith("the article gives the rate no date")
    recent = facts["context.export_controls.us-nvidia-tightening-recent"]
    assert (recent["occurred_at"], recent["estimated"]) == ("2025-05", True)
    assert all(c["estimated"] and c["occurred_at"] == "2025-05" for c in policy["commentary"])
    chips = next(o for o in policy["outcomes"] if o["id"] == "ai-chip-access")
    assert (chips["stated"], chips["expected_by"]) == (False, ["The source article"])
    assert all(o["stated"] for o in policy["outcomes"] if o["id"] != "ai-chip-access")
    assert policy["status_dating"]["occurred_note"].startswith("late April")
    citation = facts["purpose"]["sources"][0]["citation"]
    assert citation["date_note"].startswith("estimate:")
    assert (citation["tier"], citation["date_precision"]) == ("unrated", "month")


def test_timeline_shows_undated_first_and_its_notes(sqlite_url: str) -> None:
    report = json.loads(_ok(sqlite_url, "timeline", "--format", "json"))
    first = report["entries"][:2]
    assert [e["occurred_at"] for e in first] == ["undated", "undated"]
    assert all(e["occurred_note"] == "the article gives no date" for e in first)
    estimated = [e for e in report["entries"] if e["estimated"]]
    assert {e["occurred_at"] for e in estimated} == {"2025-05"}
    assert [e["stated"] for e in report["entries"]].count(False) == 1
    tariff = next(e for e in report["entries"] if "Context [tariffs]" in e["summary"])
    assert "(up to 145%)" in tariff["summary"]
    for fmt in ("text", "markdown"):
        text = _flat(_ok(sqlite_url, "timeline", "--format", fmt))
        assert "undated" in text and "1900" not in text
        assert "(estimated: the article's own date, as it gives none)" in text
        assert "the seed's inference, not stated as such in the source" in text
    # a window with a start cannot place undated background in it; one with only an end can
    since = json.loads(_ok(sqlite_url, "timeline", "--since", "2025-04", "--format", "json"))
    assert "undated" not in {e["occurred_at"] for e in since["entries"]}
    until = json.loads(_ok(sqlite_url, "timeline", "--until", "2024", "--format", "json"))
    assert {e["occurred_at"] for e in until["entries"]} == {"undated", "2022"}
