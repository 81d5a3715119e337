"""Claims through the CLI, on SQLite and PostgreSQL: each acceptance rule as `tracker claims`
and `tracker status` show it, analysts' decisions, withdrawal, world time and bad input.

Claims are appended as ingest records them (one ``fact.extracted`` per source); the CLI reads
them back. A clock moved by hand separates recorded times for ``--as-of``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.clock import FakeClock
from tests.support.events import claim
from tests.support.markdown import as_read
from tracker.app import Tracker, open_tracker
from tracker.cli import main
from tracker.dossier import load_seeds
from tracker.errors import EXIT_ALREADY
from tracker.events import NewEvent

JUNE_30 = datetime(2025, 6, 30, tzinfo=UTC)
MAY_14 = datetime(2025, 5, 14, tzinfo=UTC)


@pytest.fixture
def tracker(db_url: str) -> Iterator[Tracker]:
    t = open_tracker(db_url, FakeClock(datetime(2026, 1, 1, tzinfo=UTC)))
    load_seeds(t)
    yield t
    t.close()


def append(tracker: Tracker, *events: NewEvent) -> list[int]:
    return [e.position for e in tracker.store.append("news", list(events))]


def cli(tracker: Tracker, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", tracker.url, *args])


def ok(tracker: Tracker, *args: str) -> Result:
    result = cli(tracker, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def claims(tracker: Tracker, state: str = "all", *extra: str) -> dict[str, dict[str, Any]]:
    report = json.loads(ok(tracker, "claims", "--state", state, "--format", "json",
                           *extra).stdout)
    return {c["id"]: c for c in report["claims"]}


def fact(tracker: Tracker, key: str, *extra: str) -> dict[str, Any]:
    report = json.loads(ok(tracker, "status", "--format", "json", *extra).stdout)
    [policy] = report["policies"]
    return next(f for f in policy["facts"] if f["key"] == key)


def served(value: int, publisher: str, tier: str, *, claim_id: str | None = None,
           hedged: bool = False, as_of: datetime = JUNE_30, text: str | None = None,
           item: str = "item-1") -> NewEvent:
    event = claim("mechanism_status", {"firms": value}, slot="firms_served", claim_value=value,
                  claim_id=claim_id, publisher=publisher, tier=tier, hedged=hedged, as_of=as_of,
                  item=item)
    if text is not None:
        event = NewEvent(event.type, {**event.data, "sentence": text}, event.occurred_at,
                         event.occurred_precision, event.meta, schema_version=2)
    return event


def test_an_official_source_sets_the_state(tracker) -> None:
    [position] = append(tracker, served(40, "HKSAR Government", "official", claim_id="c40"))
    found = claims(tracker, "accepted")["c40"]
    assert found["decided_by"] == {"by": "rule", "rule": "official-source",
                                   "version": "2025-05-01.1", "positions": [position]}
    assert found["sources"][0]["publisher"] == "HKSAR Government"
    assert found["sources"][0]["tier"] == "official"
    firms = fact(tracker, "firms_served")
    assert (firms["value"], firms["state"], firms["as_of"]) == (40, "accepted", "2025-06-30")
    assert firms["sources"][0]["position"] == position


def test_two_independent_press_sources_corroborate_but_syndicated_copies_do_not(
        tracker) -> None:
    wire = "The mechanism has served 40 firms, officials said."
    append(tracker, served(40, "Wire", "press", claim_id="copies", text=wire),
           served(40, "Portal", "press", claim_id="copies", text=wire.upper(), item="item-2"))
    assert claims(tracker)["copies"]["state"] == "pending"
    assert fact(tracker, "firms_served")["value"] is None  # unknown, never guessed
    append(tracker, served(40, "RTHK", "press", claim_id="copies", item="item-3"))
    corroborated = claims(tracker)["copies"]
    assert corroborated["state"] == "accepted"
    assert corroborated["decided_by"]["rule"] == "corroborated"
    assert fact(tracker, "firms_served")["value"] == 40


def test_a_rumour_is_a_visible_dispute_and_never_moves_the_state(tracker) -> None:
    append(tracker, served(40, "HKSAR Government", "official", claim_id="official"),
           served(95, "Some blog", "unrated", claim_id="rumour", hedged=True, item="item-2"))
    found = claims(tracker)
    assert found["official"]["state"] == "accepted"
    assert found["rumour"]["state"] == "conflict"
    assert found["rumour"]["stated"] is False
    firms = fact(tracker, "firms_served")
    assert (firms["value"], firms["state"]) == (40, "conflict")
    assert [(c["value"], c["state"]) for c in firms["claims"]] == [(95, "conflict")]
    assert firms["claims"][0]["sources"][0]["publisher"] == "Some blog"
    text = " ".join(ok(tracker, "status").stdout.split())  # as read, whatever the wrapping
    assert "40 (as at 2025-06-30; HKSAR Government, official)" in text
    assert "disputed: 95 (as at 2025-06-30; Some blog, unrated; hedged)" in text
    markdown = as_read(ok(tracker, "status", "--format", "markdown").stdout)
    assert "disputed: 95" in markdown
    conflicts = ok(tracker, "claims", "--state", "conflict").stdout
    assert "rumour"[:6] in conflicts and "hedged: reportedly" in conflicts


def test_hedged_claims_wait_even_from_an_official_source(tracker) -> None:
    append(tracker, claim("mechanism_status", "suspended", slot="lifecycle",
                          claim_value="suspended", claim_id="suspended", hedged=True))
    assert claims(tracker)["suspended"]["state"] == "pending"
    report = json.loads(ok(tracker, "status", "--format", "json").stdout)
    [policy] = report["policies"]
    assert policy["status"] == "announced"
    assert [c["value"] for c in policy["status_claims"]] == ["suspended"]
    assert "pending: suspended" in " ".join(ok(tracker, "status").stdout.split())


def test_a_later_world_date_supersedes_the_seed_in_world_time(tracker) -> None:
    append(tracker, claim("tariff_rate", {"value": 30}, slot="tariff:us:china", claim_value=30,
                          claim_id="cut", as_of=MAY_14))
    key = "context.tariffs.us-tariffs-china"
    before = fact(tracker, key, "--world-as-of", "2025-05-10")
    after = fact(tracker, key, "--world-as-of", "2025-05-20")
    assert (before["value"]["value"], before["value"]["qualifier"]) == (145, "up_to")
    assert before["claims"] == []
    assert after["value"]["value"] == 30 and after["state"] == "accepted"
    assert after["sources"][0]["citation"]["publication"] == "HKSAR Government"
    assert "30%" in ok(tracker, "status", "--world-as-of", "2025-05-20").stdout
    assert "up to 145%" in ok(tracker, "status", "--world-as-of", "2025-05-10").stdout


def test_an_analyst_accepts_and_rejects_and_as_of_replays_the_decision(tracker) -> None:
    append(tracker, served(30, "Harbour Daily", "press", claim_id="thirty-claim"),
           served(31, "Blog", "unrated", claim_id="thirty-one", as_of=MAY_14, item="item-2"))
    tracker.clock.advance(days=1)
    before = "2026-01-01T12:00Z"
    accepted = ok(tracker, "claims", "accept", "thirty-c", "--note", "bureau confirmed")
    assert accepted.stdout.startswith("accepted claim thirty-c (firms_served = 30)")
    rejected = ok(tracker, "claims", "reject", "thirty-one", "--reason", "no such figure")
    assert "rejected claim" in rejected.stdout
    found = claims(tracker)
    assert found["thirty-claim"]["state"] == "accepted"
    assert found["thirty-claim"]["decided_by"]["by"] == "analyst"
    assert found["thirty-claim"]["decided_by"]["note"] == "bureau confirmed"
    assert found["thirty-one"]["state"] == "rejected"
    assert fact(tracker, "firms_served")["value"] == 30
    then = claims(tracker, "all", "--as-of", before)
    assert then["thirty-claim"]["state"] == "pending"
    assert then["thirty-one"]["state"] == "pending"
    decisions = [json.loads(line) for line in ok(
        tracker, "log", "--type", "claim.accepted", "--type", "claim.rejected", "--format",
        "jsonl").stdout.splitlines()]
    assert [d["type"] for d in decisions] == ["claim.accepted", "claim.rejected"]
    assert decisions[0]["meta"]["actor"] == "analyst"


def test_retracting_a_source_withdraws_its_claim(tracker) -> None:
    [position] = append(tracker, served(40, "HKSAR Government", "official", claim_id="c40"))
    assert fact(tracker, "firms_served")["value"] == 40
    ok(tracker, "retract", str(position), "--reason", "misreported")
    assert "c40" not in claims(tracker)
    assert not any(f["key"] == "firms_served" for f in json.loads(
        ok(tracker, "status", "--format", "json").stdout)["policies"][0]["facts"])


def test_retracting_an_item_withdraws_the_claims_it_carried(tracker) -> None:
    item = NewEvent("item.recorded", {"feed": "hksar-government", "item_key": "item-1",
                                      "title": "Mechanism serves 40 firms"},
                    JUNE_30, meta={"actor": "ingest@test"})
    [item_position] = append(tracker, item)
    fact_event = served(40, "HKSAR Government", "official", claim_id="c40")
    fact_event = NewEvent(fact_event.type, fact_event.data, fact_event.occurred_at,
                          fact_event.occurred_precision,
                          {"source": {"feed": "hksar-government", "item_key": "item-1"}},
                          schema_version=2)
    append(tracker, fact_event)
    head = tracker.store.head()
    ok(tracker, "retract", str(item_position), "--reason", "wrong feed")
    assert tracker.store.head() == head + 2  # the item's retraction, and its fact's
    assert "c40" not in claims(tracker)


@pytest.mark.parametrize("args, fragment", [
    (("claims", "accept", "no-such-claim"), "no claim"),
    (("claims", "accept", "abc"), "too short"),
    (("claims", "reject", "c40-claim"), "--reason"),
    (("claims", "--state", "bogus"), "bogus"),
    (("claims", "--policy", "no-such-policy"), "no policy"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tracker, args, fragment) -> None:
    append(tracker, served(40, "HKSAR Government", "official", claim_id="c40-claim"))
    head = tracker.store.head()
    result = cli(tracker, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    if not result.stderr.startswith("Usage:"):  # click's own usage errors have their shape
        assert result.stderr.startswith("tracker: ")
        assert len(result.stderr.strip().splitlines()) == 1
    assert tracker.store.head() == head


def test_accepting_an_accepted_claim_is_refused_as_already_done(tracker) -> None:
    append(tracker, served(40, "HKSAR Government", "official", claim_id="c40-claim"))
    head = tracker.store.head()
    result = cli(tracker, "claims", "accept", "c40-claim")
    assert result.exit_code == EXIT_ALREADY and "already accepted" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tracker.store.head() == head


def test_deciding_a_claim_an_analyst_decided_is_refused(tracker) -> None:
    append(tracker, served(12, "Blog", "unrated", claim_id="twelve-claim"))
    ok(tracker, "claims", "reject", "twelve-c", "--reason", "rumour")
    head = tracker.store.head()
    result = cli(tracker, "claims", "accept", "twelve-c")
    assert result.exit_code == EXIT_ALREADY and "already rejected by an analyst" in result.stderr
    assert tracker.store.head() == head
