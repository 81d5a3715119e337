"""A feed's fetch state through ingest passes, on SQLite and PostgreSQL: validators kept as the
bytes the server sent (one odd ETag must not disable a feed), reset when the feed is added
again or moved; and a permanent redirect that cannot move a subscription inside."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.clock import FakeClock
from tests.support.feed_server import SAMPLE_NAMES, FeedServer, sample
from tracker.app import Tracker
from tracker.feeds import add_feed, health, remove_feed, subscriptions
from tracker.ingest import fetch, netpolicy, transport
from tracker.ingest.run import ingest
from tracker.projections import PROJECTIONS
from tracker.projector import Projector, load_docs
from tracker.store.schema import feed_state

DELTA, _, HARBOUR = SAMPLE_NAMES
#: ``"café-v1"`` as UTF-8 on the wire, written as http.server sends it (latin-1).
CAFE = '"café-v1"'.encode().decode("latin-1")



def state(tracker: Tracker, name: str) -> dict[str, Any]:
    with tracker.engine.connect() as conn:
        row = conn.execute(sa.select(feed_state).where(feed_state.c.name == name)).one()
    return dict(row._mapping)


def outcome(tracker: Tracker, name: str, **kwargs: Any) -> tuple[str, str]:
    [result] = ingest(tracker, feed=name, **kwargs).outcomes
    return result.status, result.message


# -- validators ---------------------------------------------------------------------------------


def test_a_non_ascii_etag_round_trips_and_the_next_poll_is_not_modified(
        tracker: Tracker, server: FeedServer) -> None:
    server.serve(DELTA, sample(DELTA), etag=CAFE)
    add_feed(tracker, DELTA, server.url(DELTA), allow_private=True)

    assert outcome(tracker, DELTA)[0] == "ok"
    assert state(tracker, DELTA)["etag"] == CAFE
    assert outcome(tracker, DELTA) == ("not_modified", "")
    assert outcome(tracker, DELTA) == ("not_modified", "")

    assert server.seen(DELTA)[-1].headers["if-none-match"] == CAFE
    assert [s.status for s in server.seen(DELTA)] == [200, 304, 304]


def test_a_validator_stored_by_an_older_tracker_no_longer_breaks_the_feed(
        tracker: Tracker, server: FeedServer) -> None:
    server.serve(DELTA, sample(DELTA), etag=CAFE)
    add_feed(tracker, DELTA, server.url(DELTA), allow_private=True)
    outcome(tracker, DELTA)
    with tracker.engine.begin() as conn:  # as httpx decoded it: not latin-1, never sendable
        conn.execute(feed_state.update().values(etag='"café-中"'))

    assert outcome(tracker, DELTA)[0] == "ok"
    assert "if-none-match" not in server.seen(DELTA)[-1].headers
    assert state(tracker, DELTA)["etag"] == CAFE
    assert outcome(tracker, DELTA)[0] == "not_modified"


def test_an_etag_too_long_to_store_is_dropped(tracker: Tracker, server: FeedServer) -> None:
    server.serve(DELTA, sample(DELTA), etag='"' + "é" * 600 + '"')
    add_feed(tracker, DELTA, server.url(DELTA), allow_private=True)

    assert outcome(tracker, DELTA)[0] == "ok"
    assert outcome(tracker, DELTA)[0] == "ok"
    assert state(tracker, DELTA)["etag"] is None
    assert "if-none-match" not in server.seen(DELTA)[-1].headers


# -- a fresh start ------------------------------------------------------------------------------


def test_remove_and_add_starts_the_feed_afresh(tracker: Tracker, server: FeedServer,
                                               clock: FakeClock) -> None:
    server.serve(DELTA, sample(DELTA), etag='"v1"')
    add_feed(tracker, DELTA, server.url(DELTA), allow_private=True)
    outcome(tracker, DELTA)
    server.serve(DELTA, b"down", status=500, content_type="text/plain")
    assert outcome(tracker, DELTA)[0] == "failed"
    before = state(tracker, DELTA)
    assert before["etag"] == '"v1"' and before["consecutive_failures"] == 1
    assert before["next_due_at"] is not None

    remove_feed(tracker, DELTA)
    add_feed(tracker, DELTA, server.url(DELTA), allow_private=True)

    after = state(tracker, DELTA)
    assert (after["etag"], after["last_modified"], after["consecutive_failures"],
            after["next_due_at"], after["last_error"]) == (None, None, 0, None, None)
    [row] = [h for h in health(tracker) if h.name == DELTA]
    assert (row.consecutive_failures, row.last_error, row.next_attempt) == (0, None, "now")
    Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up(["feeds"])
    doc = dict(load_docs(tracker.engine, "feeds", order_by_sort=False))[DELTA]
    assert doc["consecutive_failures"] == 0 and "last_error" not in doc
    # due at once, and fetched without the old validator
    server.serve(DELTA, sample(DELTA), etag='"v1"')
    assert [o.name for o in ingest(tracker).outcomes] == [DELTA]
    assert "if-none-match" not in server.seen(DELTA)[-1].headers


def test_a_new_url_is_fetched_without_the_old_validators(tracker: Tracker,
                                                         server: FeedServer) -> None:
    server.serve(DELTA, sample(DELTA), etag='"v1"')
    server.serve(HARBOUR, sample(HARBOUR), etag='"v1"')
    add_feed(tracker, "moving", server.url(DELTA), allow_private=True)
    outcome(tracker, "moving")
    assert state(tracker, "moving")["etag"] == '"v1"'

    add_feed(tracker, "moving", server.url(HARBOUR))

    assert state(tracker, "moving")["etag"] is None
    assert outcome(tracker, "moving")[0] == "ok"
    assert "if-none-match" not in server.seen(HARBOUR)[-1].headers


# -- permanent redirects ------------------------------------------------------------------------


@pytest.fixture
def as_public() -> Iterator[Callable[..., fetch.FetchResult]]:
    """A fetcher for which ``public.test`` is the loopback server, and a public host."""
    loopback = ipaddress.ip_address("127.0.0.1")

    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "public.test" else netpolicy.system_resolver(host, port)

    with transport.make_client(resolve, lambda ip: ip != loopback and netpolicy.is_internal(ip)) \
            as client:
        yield functools.partial(fetch.fetch, client=client)


def test_a_permanent_redirect_inside_neither_fetches_nor_moves_the_feed(
        tracker: Tracker, server: FeedServer, as_public: Any) -> None:
    start = f"http://public.test:{server.port}/old"
    server.routes["/old"] = lambda h: h.reply(
        301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    add_feed(tracker, "moved", start)

    status, message = outcome(tracker, "moved", fetcher=as_public)

    assert status == "failed"
    assert message.startswith("refused: redirect to http://169.254.169.254/latest/meta-data/")
    assert list(tracker.store.read(types=["feed.changed"])) == []
    assert subscriptions(tracker)["moved"].url == start


def test_a_permanent_redirect_between_public_hosts_still_moves_the_feed(
        tracker: Tracker, server: FeedServer, as_public: Any) -> None:
    start = f"http://public.test:{server.port}/old"
    server.routes["/old"] = lambda h: h.reply(301, headers={"Location": "/new"})
    server.serve("new", sample(DELTA))
    add_feed(tracker, "moved", start)

    assert outcome(tracker, "moved", fetcher=as_public)[0] == "ok"
    assert subscriptions(tracker)["moved"].url == f"http://public.test:{server.port}/new"
