"""Ingest passes against the store, on SQLite and PostgreSQL, with feeds served on loopback.

Each test opens an empty log (no seeds), subscribes feeds served by a scripted HTTP server
started in the test, and runs :func:`tracker.ingest.run.ingest` with a hand-moved clock.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import workers
from tests.support.feed_server import SAMPLE_NAMES, sample
from tests.support.paths import ingest_fixture
from tracker.app import Tracker, open_tracker, verify
from tracker.dates import utc
from tracker.errors import EXIT_SOME_FEEDS_FAILED
from tracker.events import RecordedEvent
from tracker.feeds import add_feed, health
from tracker.ingest import fetch
from tracker.ingest.run import LEASE_SECONDS, ingest
from tracker.news import news
from tracker.store.schema import feed_state

DELTA, GANGZHE, HARBOUR = SAMPLE_NAMES

# The story both English sample feeds carry (different links, different titles).
DELTA_SHARED_LINK = "https://deltatrade.example/asia/hk-zhejiang-mechanism-agreed"
HARBOUR_SHARED_LINK = ("https://harbourbusiness.example/hong-kong/2025/04/29/"
                       "hk-zhejiang-supply-chain-mechanism")


# -- fixtures and helpers -------------------------------------------------------------------



def subscribe(tracker: Tracker, urls: dict[str, str]) -> None:
    for name, url in urls.items():
        add_feed(tracker, name, url, allow_private=True)  # the loopback server


def items_in(name: str) -> int:
    """How many items the sample feed carries, counted in its XML."""
    body = sample(name)
    return body.count(b"<item>") + body.count(b"<entry>")


def all_events(tracker: Tracker) -> list[RecordedEvent]:
    return list(tracker.store.read())


def fingerprint(tracker: Tracker) -> list[tuple[int, str, str]]:
    return [(e.position, e.event_id, e.hash) for e in all_events(tracker)]


def of_type(tracker: Tracker, *types: str) -> list[RecordedEvent]:
    return list(tracker.store.read(types=list(types)))


def recorded_per_item(tracker: Tracker) -> Counter[tuple[str, str]]:
    return Counter((e.data["feed"], e.data["item_key"]) for e in of_type(tracker, "item.recorded"))


def state(tracker: Tracker, name: str) -> dict[str, Any] | None:
    with tracker.engine.connect() as conn:
        row = conn.execute(sa.select(feed_state).where(feed_state.c.name == name)).first()
    return dict(row._mapping) if row is not None else None


def all_states(tracker: Tracker) -> dict[str, dict[str, Any]]:
    with tracker.engine.connect() as conn:
        return {r.name: dict(r._mapping) for r in conn.execute(sa.select(feed_state))}


def outcomes(summary: Any) -> dict[str, tuple[str, int]]:
    return {o.name: (o.status, o.items) for o in summary.outcomes}


def story_with_link(tracker: Tracker, link: str) -> list[dict[str, Any]]:
    return [s for s in news(tracker)["stories"]
            if any((src["link"] or "").startswith(link) for src in s["sources"])]


# -- the same feeds twice ---------------------------------------------------------------------


@pytest.mark.parametrize("honour_etag", [True, False], ids=["server-304", "server-ignores-etag"])
def test_second_run_over_the_same_feeds_records_nothing(tracker, server, clock,
                                                        honour_etag) -> None:
    urls = server.serve_samples(honour_etag=honour_etag)
    subscribe(tracker, urls)

    first = ingest(tracker, rng=random.Random(1))
    assert first.exit_code == 0
    assert outcomes(first) == {name: ("ok", items_in(name)) for name in SAMPLE_NAMES}
    per_item = recorded_per_item(tracker)
    assert sum(per_item.values()) == sum(items_in(n) for n in SAMPLE_NAMES) == 18
    assert set(per_item.values()) == {1}
    head, log = tracker.store.head(), fingerprint(tracker)

    clock.advance(hours=2)  # every feed is due again
    second = ingest(tracker, rng=random.Random(1))

    assert second.exit_code == 0
    if honour_etag:
        assert outcomes(second) == {name: ("not_modified", 0) for name in SAMPLE_NAMES}
    else:
        assert outcomes(second) == {name: ("ok", 0) for name in SAMPLE_NAMES}
    assert tracker.store.head() == head
    assert fingerprint(tracker) == log
    for name in SAMPLE_NAMES:
        seen = server.seen(name)
        assert [r.status for r in seen] == [200, 304 if honour_etag else 200]
        assert "if-none-match" not in seen[0].headers
        assert seen[1].headers.get("if-none-match") == f'"{name}-v1"'
        row = state(tracker, name)
        assert row is not None
        assert row["etag"] == f'"{name}-v1"'
        assert utc(row["last_success_at"]) == clock.now
        assert utc(row["next_due_at"]) > clock.now
        assert row["consecutive_failures"] == 0
        assert row["items_recorded"] == items_in(name)
        assert row["lease_owner"] is None


def test_same_story_in_two_feeds_is_one_story_with_two_sources(tracker, server) -> None:
    subscribe(tracker, server.serve_samples((DELTA, HARBOUR)))

    summary = ingest(tracker)

    assert summary.exit_code == 0
    shared = story_with_link(tracker, DELTA_SHARED_LINK)
    assert len(shared) == 1
    story = shared[0]
    assert {src["feed"] for src in story["sources"]} == {DELTA, HARBOUR}
    assert len(story["sources"]) == 2
    links = sorted(src["link"] for src in story["sources"])
    assert links[0].startswith(DELTA_SHARED_LINK)
    assert links[1].startswith(HARBOUR_SHARED_LINK)
    assert story_with_link(tracker, HARBOUR_SHARED_LINK) == shared
    # both copies state the same facts: each is recorded once, in the story's stream
    facts = [(f["kind"], json.dumps(f["value"], sort_keys=True)) for f in story["facts"]]
    assert facts, "the shared story states facts (project count, mechanism)"
    assert len(facts) == len(set(facts))
    assert "project_count" in {kind for kind, _ in facts}
    stream = f"story:{story['id']}"
    fact_events = [e for e in of_type(tracker, "fact.extracted") if e.stream_id == stream]
    # each copy is a source of its own for the claims it states (corroboration counts them)
    assert {(e.data["kind"], json.dumps(e.data["value"], sort_keys=True))
            for e in fact_events} == set(facts)
    assert {e.data["feed"] for e in fact_events} == {DELTA, HARBOUR}
    assert len({e.event_id for e in fact_events}) == len(fact_events)
    created = [e for e in of_type(tracker, "story.created") if e.stream_id == stream]
    corroborated = [e for e in of_type(tracker, "story.corroborated") if e.stream_id == stream]
    assert len(created) == 1 and len(corroborated) == 1
    assert {created[0].data["feed"], corroborated[0].data["feed"]} == {DELTA, HARBOUR}
    # and no item is in two stories
    keys = [e.data["item_key"] for e in of_type(tracker, "story.created", "story.corroborated")]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("order", [(DELTA, HARBOUR), (HARBOUR, DELTA)],
                         ids=["delta-first", "harbour-first"])
def test_shared_story_merges_whichever_feed_comes_first(tracker, server, order) -> None:
    subscribe(tracker, server.serve_samples((DELTA, HARBOUR)))

    for name in order:
        assert ingest(tracker, feed=name).exit_code == 0

    shared = story_with_link(tracker, DELTA_SHARED_LINK)
    assert len(shared) == 1
    assert [src["feed"] for src in shared[0]["sources"]] == list(order)
    facts = [(f["kind"], json.dumps(f["value"], sort_keys=True)) for f in shared[0]["facts"]]
    assert len(facts) == len(set(facts)) > 0


def test_changed_item_is_a_revision_not_a_new_story(tracker, server, clock) -> None:
    subscribe(tracker, server.serve_samples())
    assert ingest(tracker).exit_code == 0
    created_before = len(of_type(tracker, "story.created"))
    original = next(e for e in of_type(tracker, "item.recorded")
                    if e.data["feed"] == HARBOUR
                    and e.data["link"].startswith(HARBOUR_SHARED_LINK))
    [story] = story_with_link(tracker, HARBOUR_SHARED_LINK)

    old = b"signed agreements covering more than 50 projects at a forum in Ningbo."
    new = b"signed agreements covering 52 projects worth HK$30 billion at a forum in Ningbo."
    body = sample(HARBOUR)
    assert body.count(old) == 1
    server.serve(HARBOUR, body.replace(old, new), etag='"harbour-v2"')
    clock.advance(hours=2)

    summary = ingest(tracker)

    assert summary.exit_code == 0
    harbour = next(o for o in summary.outcomes if o.name == HARBOUR)
    assert (harbour.status, harbour.items, harbour.stories, harbour.revisions) == ("ok", 0, 0, 1)
    assert len(of_type(tracker, "story.created")) == created_before
    assert len(of_type(tracker, "item.recorded")) == 18
    [revised] = of_type(tracker, "item.revised")
    assert revised.stream_id == f"feed:{HARBOUR}"
    assert revised.data["item_key"] == original.data["item_key"]
    assert revised.data["previous_hash"] == original.data["content_hash"]
    assert revised.data["content_hash"] != original.data["content_hash"]
    assert "52 projects" in revised.data["summary"]
    assert revised.data["story_id"] == story["id"]
    [story_revised] = of_type(tracker, "story.revised")
    assert story_revised.stream_id == f"story:{story['id']}"
    assert "52 projects" in story_revised.data["summary"]
    [after] = story_with_link(tracker, HARBOUR_SHARED_LINK)
    assert after["id"] == story["id"]
    assert after["revisions"] == 1
    assert len(after["sources"]) == len(story["sources"])
    # the new content is classified again, under its own content hash
    classified = [e for e in of_type(tracker, "item.classified")
                  if e.data["item_key"] == original.data["item_key"]]
    assert [e.data["content_hash"] for e in classified] == \
        [original.data["content_hash"], revised.data["content_hash"]]

    # the same changed content again (no 304 this time) is nothing new
    server.serve(HARBOUR, body.replace(old, new), etag='"harbour-v2"', honour_etag=False)
    head = tracker.store.head()
    clock.advance(hours=2)
    again = ingest(tracker, feed=HARBOUR)
    assert outcomes(again) == {HARBOUR: ("ok", 0)}
    assert again.outcomes[0].revisions == 0
    assert tracker.store.head() == head


def test_chinese_items_are_matched(tracker, server) -> None:
    subscribe(tracker, server.serve_samples((GANGZHE,)))

    assert ingest(tracker).exit_code == 0

    decisions = {e.data["item_key"]: e.data for e in of_type(tracker, "item.classified")}
    titles = {e.data["item_key"]: e.data["title"] for e in of_type(tracker, "item.recorded")}
    by_title = {titles[key]: d for key, d in decisions.items()}
    mechanism = by_title["港浙簽署供應鏈服務機制合作協議 寧波論壇簽逾50個項目"]
    assert mechanism["relevant"] is True
    assert mechanism["score"] >= mechanism["threshold"]
    assert {"Hong Kong", "Zhejiang", "Ningbo", "supply chain services mechanism"} \
        <= set(mechanism["matched"])
    assert by_title["香港樓價連跌三個月"]["relevant"] is False
    stories = {s["title"]: s for s in news(tracker)["stories"]}
    assert "港浙簽署供應鏈服務機制合作協議 寧波論壇簽逾50個項目" in stories
    assert "香港樓價連跌三個月" not in stories
    story = stories["港浙簽署供應鏈服務機制合作協議 寧波論壇簽逾50個項目"]
    assert story["sources"][0]["feed"] == GANGZHE
    assert "project_count" in {f["kind"] for f in story["facts"]}


# -- failures ---------------------------------------------------------------------------------


def test_crash_between_fetch_and_commit_records_nothing_and_is_not_a_feed_failure(
        tracker, server, clock, monkeypatch) -> None:
    subscribe(tracker, server.serve_samples())
    fetched: list[str] = []

    def real_fetch(url: str, **kwargs: Any) -> fetch.FetchResult:
        fetched.append(url)
        return fetch.fetch(url, **kwargs)

    # the second append of the first feed's transaction fails: the first (its feed stream's
    # items) is already written inside the transaction and must be rolled back with it
    calls = {"n": 0}
    real_append_in = tracker.store.append_in

    def flaky_append_in(conn: Any, stream_id: str, new_events: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash before commit")
        return real_append_in(conn, stream_id, new_events, *args)

    monkeypatch.setattr(tracker.store, "append_in", flaky_append_in)

    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest(tracker, fetcher=real_fetch, rng=random.Random(3))

    assert len(fetched) == 1  # a crash stops the pass: it is not the feed's failure
    assert recorded_per_item(tracker) == Counter()
    delta_events = [e for e in all_events(tracker) if e.stream_id == f"feed:{DELTA}"]
    assert [e.type for e in delta_events] == ["feed.subscribed"]
    row = state(tracker, DELTA)
    assert row is not None
    assert row["consecutive_failures"] == 0
    assert row["etag"] is None  # else the next run would get a 304 and lose the items
    assert row["items_recorded"] == 0
    assert row["lease_owner"] is None  # handed back at once
    assert row["next_due_at"] is None  # no backoff: the next run tries again

    monkeypatch.undo()
    after = ingest(tracker, fetcher=real_fetch)

    assert after.exit_code == 0
    assert outcomes(after)[DELTA] == ("ok", items_in(DELTA))
    per_item = recorded_per_item(tracker)
    assert sum(per_item.values()) == 18 and set(per_item.values()) == {1}
    assert of_type(tracker, "feed.failed", "feed.recovered") == []
    assert verify(tracker).ok


def test_a_bug_in_extraction_raises_and_is_never_logged_as_a_feed_failure(
        tracker, server, clock, monkeypatch) -> None:
    from tracker.ingest import extract

    subscribe(tracker, server.serve_samples())
    head = tracker.store.head()

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("a programming error")

    monkeypatch.setattr(extract, "extract_facts", broken)
    with pytest.raises(KeyError, match="a programming error"):
        ingest(tracker, worker="here:1:000001")

    assert tracker.store.head() == head  # nothing reached the log
    assert of_type(tracker, "feed.failed") == []
    row = state(tracker, DELTA)
    assert row is not None
    assert (row["consecutive_failures"], row["next_due_at"], row["lease_owner"]) == (0, None, None)

    monkeypatch.undo()
    later = ingest(tracker, worker="here:1:000002")  # no backoff, no lease to wait out
    assert outcomes(later)[DELTA] == ("ok", 6)
    assert sum(recorded_per_item(tracker).values()) == 18


FAILURES = {
    "http-500": ({"status": 500, "body": b"internal error", "content_type": "text/plain"},
                 "HTTP 500"),
    "html-body": ({"body": ingest_fixture("not_a_feed.html"),
                   "content_type": "text/html; charset=utf-8"}, "HTML page, not a feed"),
    "hanging": ({"hang": 10.0}, "timed out"),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_one_failing_feed_does_not_stop_the_others(tracker, server, clock, kind) -> None:
    urls = server.serve_samples()
    subscribe(tracker, urls)
    route, message = FAILURES[kind]
    server.serve(GANGZHE, **route)  # the middle feed, by name order

    summary = ingest(tracker, rng=random.Random(5), timeout=(1, 1))

    assert summary.exit_code == EXIT_SOME_FEEDS_FAILED
    assert outcomes(summary) == {DELTA: ("ok", 6), GANGZHE: ("failed", 0), HARBOUR: ("ok", 6)}
    assert message in summary.failed[0].message
    assert "1 failed" in summary.line()
    assert {f for f, _ in recorded_per_item(tracker)} == {DELTA, HARBOUR}
    row = state(tracker, GANGZHE)
    assert row is not None
    assert row["consecutive_failures"] == 1
    assert message in row["last_error"]
    assert utc(row["last_error_at"]) == clock.now
    assert row["last_success_at"] is None
    assert utc(row["next_due_at"]) > clock.now
    first_due = utc(row["next_due_at"])
    [failed] = of_type(tracker, "feed.failed")
    assert failed.stream_id == f"feed:{GANGZHE}"
    assert failed.data["consecutive_failures"] == 1 and message in failed.data["error"]
    [row_health] = [h for h in health(tracker) if h.name == GANGZHE]
    assert row_health.consecutive_failures == 1 and message in (row_health.last_error or "")

    # before its next attempt is due, the failed feed is left alone
    head = tracker.store.head()
    requests = len(server.seen(GANGZHE))
    skipped = ingest(tracker, rng=random.Random(5), timeout=(1, 1))
    assert skipped.outcomes == [] and skipped.not_due == 3
    assert len(server.seen(GANGZHE)) == requests
    assert tracker.store.head() == head

    # the server recovers; once due, the feed is polled, succeeds and resets its failures
    server.serve_samples((GANGZHE,))
    clock.now = first_due + timedelta(seconds=1)
    recovered = ingest(tracker, rng=random.Random(5), timeout=(1, 1))

    assert recovered.exit_code == 0
    assert outcomes(recovered) == {GANGZHE: ("ok", 6)}
    [event] = of_type(tracker, "feed.recovered")
    assert event.stream_id == f"feed:{GANGZHE}"
    assert event.data == {"name": GANGZHE, "after_failures": 1}
    row = state(tracker, GANGZHE)
    assert row["consecutive_failures"] == 0
    assert utc(row["last_success_at"]) == clock.now
    assert utc(row["next_due_at"]) == clock.now + timedelta(minutes=30)
    [row_health] = [h for h in health(tracker) if h.name == GANGZHE]
    assert row_health.consecutive_failures == 0 and row_health.last_error is None
    assert sum(recorded_per_item(tracker).values()) == 18


def test_failures_in_a_row_are_counted(tracker, server, clock) -> None:
    subscribe(tracker, {DELTA: server.url(DELTA)})
    server.serve(DELTA, b"down", status=500, content_type="text/plain")

    for expected in (1, 2, 3):
        summary = ingest(tracker, rng=random.Random(expected))
        assert outcomes(summary) == {DELTA: ("failed", 0)}
        row = state(tracker, DELTA)
        assert row["consecutive_failures"] == expected
        assert utc(row["next_due_at"]) > clock.now
        clock.now = utc(row["next_due_at"]) + timedelta(seconds=1)

    # the same error again is counted in feed_state without flooding the log
    assert [e.data["consecutive_failures"] for e in of_type(tracker, "feed.failed")] == [1]
    server.serve(DELTA, b"gone", status=404, content_type="text/plain")
    ingest(tracker, rng=random.Random(9))
    assert [e.data["consecutive_failures"] for e in of_type(tracker, "feed.failed")] == [1, 4]


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_pushes_the_next_attempt_out(tracker, server, clock, status) -> None:
    subscribe(tracker, {DELTA: server.url(DELTA)})
    server.serve(DELTA, b"busy", status=status, content_type="text/plain",
                 headers={"Retry-After": "7200"})

    summary = ingest(tracker, rng=random.Random(0))

    assert outcomes(summary) == {DELTA: ("failed", 0)}
    assert f"HTTP {status}" in summary.failed[0].message
    row = state(tracker, DELTA)
    assert utc(row["next_due_at"]) >= clock.now + timedelta(seconds=7200)
    clock.advance(seconds=3600)
    assert ingest(tracker).not_due == 1
    assert len(server.seen(DELTA)) == 1


# -- what runs when ---------------------------------------------------------------------------


def test_dry_run_records_nothing(tracker, server) -> None:
    subscribe(tracker, server.serve_samples())
    head, log, states = tracker.store.head(), fingerprint(tracker), all_states(tracker)

    dry = ingest(tracker, dry_run=True)

    assert dry.exit_code == 0
    assert [o.status for o in dry.outcomes] == ["dry_run"] * 3
    assert all(len(server.seen(name)) == 1 for name in SAMPLE_NAMES)  # it did fetch
    assert tracker.store.head() == head
    assert fingerprint(tracker) == log
    assert all_states(tracker) == states == {}
    assert "would record 6 new item(s)" in dry.outcomes[0].line()

    # what the dry run promised for the first feed is what a real run records for it
    first = ingest(tracker, feed=DELTA)
    assert [(o.items, o.stories, o.corroborations, o.facts) for o in first.outcomes] == \
        [(o.items, o.stories, o.corroborations, o.facts) for o in dry.outcomes[:1]]
    # and a dry run over the rest now sees what that run recorded
    rest = ingest(tracker, feed=HARBOUR, dry_run=True)
    real = ingest(tracker, feed=HARBOUR)
    assert [(o.items, o.stories, o.corroborations, o.facts) for o in rest.outcomes] == \
        [(o.items, o.stories, o.corroborations, o.facts) for o in real.outcomes] == \
        [(6, 3, 1, 6)]  # "tariffs reach 145%" takes its target from the headline: one fact


def test_dry_run_over_two_feeds_counts_a_shared_story_once(tracker, server) -> None:
    subscribe(tracker, server.serve_samples((DELTA, HARBOUR)))

    dry = ingest(tracker, dry_run=True)
    real = ingest(tracker)

    assert [(o.items, o.stories, o.corroborations, o.facts) for o in dry.outcomes] == \
        [(o.items, o.stories, o.corroborations, o.facts) for o in real.outcomes]


def test_dry_run_after_a_real_run_plans_nothing_new(tracker, server, clock) -> None:
    subscribe(tracker, server.serve_samples(honour_etag=False))
    ingest(tracker)
    head, states = tracker.store.head(), all_states(tracker)
    clock.advance(hours=2)

    dry = ingest(tracker, dry_run=True)

    assert [(o.status, o.items, o.stories, o.facts) for o in dry.outcomes] == \
        [("dry_run", 0, 0, 0)] * 3
    assert tracker.store.head() == head
    assert all_states(tracker) == states


def test_feeds_not_due_are_skipped_unless_named(tracker, server, clock) -> None:
    subscribe(tracker, server.serve_samples(honour_etag=False))
    ingest(tracker)
    assert all(len(server.seen(n)) == 1 for n in SAMPLE_NAMES)

    clock.advance(minutes=10)
    skipped = ingest(tracker)
    assert skipped.outcomes == [] and skipped.not_due == 3
    assert "0 feed(s) polled, 0 failed, 3 not due" in skipped.line()
    assert all(len(server.seen(n)) == 1 for n in SAMPLE_NAMES)

    # the scheduler's per-feed job names the feed but still waits until it is due
    waiting = ingest(tracker, feed=HARBOUR, due_only=True)
    assert waiting.outcomes == [] and waiting.not_due == 1
    assert len(server.seen(HARBOUR)) == 1

    named = ingest(tracker, feed=HARBOUR)
    assert outcomes(named) == {HARBOUR: ("ok", 0)} and named.not_due == 0
    assert [len(server.seen(n)) for n in SAMPLE_NAMES] == [1, 1, 2]

    # harbour's <ttl>60</ttl> raises its 30-minute interval to an hour
    assert utc(state(tracker, HARBOUR)["next_due_at"]) == clock.now + timedelta(hours=1)
    clock.advance(minutes=25)  # 35 minutes after the first run: the other two are due
    due = ingest(tracker)
    assert sorted(o.name for o in due.outcomes) == [DELTA, GANGZHE] and due.not_due == 1

    with pytest.raises(Exception, match="no feed named 'nosuch'"):
        ingest(tracker, feed="nosuch")



def test_a_not_modified_poll_keeps_the_feeds_ttl(tracker, server, clock) -> None:
    subscribe(tracker, server.serve_samples((HARBOUR,)))  # <ttl>60</ttl>, interval 30m
    ingest(tracker)
    assert utc(state(tracker, HARBOUR)["next_due_at"]) == clock.now + timedelta(hours=1)
    clock.advance(hours=1)

    summary = ingest(tracker)

    assert outcomes(summary) == {HARBOUR: ("not_modified", 0)}
    assert utc(state(tracker, HARBOUR)["next_due_at"]) == clock.now + timedelta(hours=1)

# -- leases and concurrency -------------------------------------------------------------------


def test_a_leased_feed_is_skipped_and_an_expired_lease_taken_over(tracker, server,
                                                                   clock) -> None:
    subscribe(tracker, server.serve_samples())
    other = "elsewhere:4242:abcdef"
    with tracker.engine.begin() as conn:
        conn.execute(feed_state.insert().values(
            name=DELTA, lease_owner=other,
            lease_expires_at=clock.now + timedelta(seconds=LEASE_SECONDS)))

    first = ingest(tracker, worker="here:1:000001")

    assert outcomes(first) == {DELTA: ("busy", 0), GANGZHE: ("ok", 6), HARBOUR: ("ok", 6)}
    assert first.exit_code == 0
    expires = clock.now + timedelta(seconds=LEASE_SECONDS)
    assert first.outcomes[0].line() == \
        f"{DELTA}: busy: leased by {other} until {expires:%Y-%m-%dT%H:%M:%SZ}"
    assert (first.outcomes[0].lease_owner, first.outcomes[0].lease_expires_at) == (other, expires)
    assert "2 feed(s) polled, 0 failed, 0 not due, 1 busy;" in first.line()
    assert server.seen(DELTA) == []
    assert state(tracker, DELTA)["lease_owner"] == other
    assert outcomes(ingest(tracker, feed=DELTA, worker="here:1:000001")) == {DELTA: ("busy", 0)}
    assert server.seen(DELTA) == []
    assert {f for f, _ in recorded_per_item(tracker)} == {GANGZHE, HARBOUR}

    clock.advance(seconds=LEASE_SECONDS + 1)  # the other worker died: its lease lapsed
    leases: list[tuple[str | None, Any]] = []

    def watching_fetch(url: str, **kwargs: Any) -> fetch.FetchResult:
        row = state(tracker, DELTA)
        leases.append((row["lease_owner"], utc(row["lease_expires_at"])))
        return fetch.fetch(url, **kwargs)

    taken = ingest(tracker, worker="here:1:000002", fetcher=watching_fetch)

    assert outcomes(taken) == {DELTA: ("ok", 6)}
    assert leases == [("here:1:000002", clock.now + timedelta(seconds=LEASE_SECONDS))]
    row = state(tracker, DELTA)
    assert row["lease_owner"] is None and row["lease_expires_at"] is None
    assert sum(recorded_per_item(tracker).values()) == 18


@pytest.mark.slow
def test_three_processes_at_once_record_every_item_once(db_url, server) -> None:
    setup = open_tracker(db_url)
    try:
        subscribe(setup, server.serve_samples(honour_etag=False))
    finally:
        setup.close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    report = ctx.Queue()
    procs = [ctx.Process(target=workers.run_ingest, args=(db_url, start, report), daemon=True)
             for _ in range(3)]
    for proc in procs:
        proc.start()
    try:
        assert [report.get(timeout=30) for _ in procs] == ["ready"] * 3
        start.set()
        results = [report.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=10)
            assert proc.exitcode == 0
    except queue.Empty:
        pytest.fail("a worker process did not report in time")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)

    assert all(isinstance(r, list) for r in results), results
    flat = [o for r in results for o in r]
    assert not [o for o in flat if o[1] == "failed"], flat
    for name in SAMPLE_NAMES:
        assert sum(items for n, _, items, _ in flat if n == name) == 6
    tracker = open_tracker(db_url)
    try:
        per_item = recorded_per_item(tracker)
        assert len(per_item) == 18 and set(per_item.values()) == {1}
        keys = [e.data["item_key"]
                for e in of_type(tracker, "story.created", "story.corroborated")]
        assert len(keys) == len(set(keys))
        assert len(story_with_link(tracker, DELTA_SHARED_LINK)) == 1
        classified = Counter((e.data["feed"], e.data["item_key"])
                             for e in of_type(tracker, "item.classified"))
        assert classified == per_item
        result = verify(tracker)
        assert result.ok and result.checked == tracker.store.head()
        assert all(row["lease_owner"] is None for row in all_states(tracker).values())
    finally:
        tracker.close()


def test_a_pass_does_not_repoll_a_feed_another_worker_just_polled(tracker, server,
                                                                  clock) -> None:
    """A pass reads every feed's schedule when it starts; by the time it reaches a feed,
    another worker may have polled it. Under the lease it must go by the feed's state as it
    is now: not poll it again, and not record the recovery a second time."""
    subscribe(tracker, server.serve_samples((DELTA, GANGZHE)))
    server.serve(GANGZHE, b"down", status=500, content_type="text/plain")
    ingest(tracker, rng=random.Random(1))
    server.serve_samples((GANGZHE,))
    clock.advance(hours=2)
    meanwhile: list[Any] = []

    def fetch_while_another_worker_runs(url: str, **kwargs: Any) -> fetch.FetchResult:
        if not meanwhile:  # while this pass fetches delta, another polls gangzhe
            meanwhile.append(ingest(tracker, feed=GANGZHE, worker="other:2:000002"))
        return fetch.fetch(url, **kwargs)

    summary = ingest(tracker, fetcher=fetch_while_another_worker_runs, worker="this:1:000001")

    assert outcomes(meanwhile[0]) == {GANGZHE: ("ok", 6)}
    assert outcomes(summary) == {DELTA: ("not_modified", 0)}
    assert summary.not_due == 1
    assert [r.status for r in server.seen(GANGZHE)] == [500, 200]
    assert [e.data for e in of_type(tracker, "feed.recovered")] == \
        [{"name": GANGZHE, "after_failures": 1}]
    row = state(tracker, GANGZHE)
    assert row["lease_owner"] is None and row["consecutive_failures"] == 0


def test_a_pass_counts_a_failure_another_worker_recorded_meanwhile(tracker, server,
                                                                   clock) -> None:
    subscribe(tracker, server.serve_samples((DELTA, GANGZHE)))
    server.serve(GANGZHE, b"down", status=500, content_type="text/plain")
    meanwhile: list[Any] = []

    def fetch_while_another_worker_runs(url: str, **kwargs: Any) -> fetch.FetchResult:
        if not meanwhile:
            meanwhile.append(ingest(tracker, feed=GANGZHE, rng=random.Random(2)))
            clock.now = utc(state(tracker, GANGZHE)["next_due_at"]) + timedelta(seconds=1)
        return fetch.fetch(url, **kwargs)

    summary = ingest(tracker, fetcher=fetch_while_another_worker_runs, rng=random.Random(3))

    assert outcomes(meanwhile[0]) == {GANGZHE: ("failed", 0)}
    assert outcomes(summary) == {DELTA: ("ok", 6), GANGZHE: ("failed", 0)}
    assert state(tracker, GANGZHE)["consecutive_failures"] == 2


def test_an_interrupted_run_hands_its_lease_back(tracker, server) -> None:
    subscribe(tracker, server.serve_samples((DELTA,)))

    def interrupted(url: str, **_kwargs: Any) -> fetch.FetchResult:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(tracker, fetcher=interrupted)
    row = state(tracker, DELTA)
    assert row["lease_owner"] is None and row["lease_expires_at"] is None
    assert outcomes(ingest(tracker)) == {DELTA: ("ok", 6)}
