"""fetch(): limits, conditional GET and one-line errors, against a real loopback server."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.support.feed_server import FeedServer, RequestHandler
from tracker.ingest.fetch import (
    FetchError,
    fetch,
    parse_max_age,
    parse_retry_after,
)
from tracker.ingest.transport import USER_AGENT, make_client

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
SHORT = (1.0, 0.5)


def test_200_then_304_with_etag(loopback: FeedServer) -> None:
    def handler(h: RequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.reply(304, headers={"ETag": '"v1"'})
        else:
            h.reply(200, FEED, {"ETag": '"v1"', "Last-Modified": "Tue, 29 Apr 2025 02:00:00 GMT",
                                "Cache-Control": "public, max-age=600",
                                "Content-Type": "application/rss+xml"})

    loopback.routes["/feed"] = handler
    first = fetch(loopback.url("/feed"), allow_private=True, timeout=SHORT)
    assert first.status == 200 and not first.not_modified
    assert first.body == FEED
    assert first.etag == '"v1"'
    assert first.last_modified == "Tue, 29 Apr 2025 02:00:00 GMT"
    assert first.cache_max_age_seconds == 600
    assert first.headers["content-type"] == "application/rss+xml"
    assert first.final_url == loopback.url("/feed")

    second = fetch(loopback.url("/feed"), allow_private=True, etag=first.etag,
                   last_modified=first.last_modified, timeout=SHORT)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert second.etag == '"v1"'
    assert second.last_modified == first.last_modified
    sent = loopback.requests[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == first.last_modified
    assert sent["user-agent"] == USER_AGENT
    assert "application/rss+xml" in sent["accept"]


def test_retry_after_seconds_on_503(loopback: FeedServer) -> None:
    loopback.routes["/busy"] = lambda h: h.reply(503, b"busy", {"Retry-After": "120"})
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/busy"), allow_private=True, timeout=SHORT)
    assert err.value.status == 503
    assert err.value.retry_after_seconds == 120
    assert str(err.value) == f"HTTP 503 from {loopback.url('/busy')}; retry after 120s"


def test_retry_after_http_date_on_429(loopback: FeedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)
    loopback.routes["/slow-down"] = lambda h: h.reply(429, b"", {"Retry-After": when})
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/slow-down"), allow_private=True, timeout=SHORT)
    assert err.value.status == 429
    assert err.value.retry_after_seconds is not None
    assert 290 <= err.value.retry_after_seconds <= 300


def test_http_500_is_one_line(loopback: FeedServer) -> None:
    loopback.routes["/broken"] = lambda h: h.reply(500, b"<html>\ntrace\n</html>")
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/broken"), allow_private=True, timeout=SHORT)
    assert str(err.value) == f"HTTP 500 from {loopback.url('/broken')}"
    assert err.value.status == 500 and err.value.retry_after_seconds is None
    assert "\n" not in str(err.value)


def test_hanging_server_times_out_on_read(loopback: FeedServer) -> None:
    loopback.routes["/hang"] = lambda h: h.stall(5)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/hang"), allow_private=True, timeout=(1.0, 0.3))
    assert time.monotonic() - started < 2
    assert str(err.value) == f"timed out after 0.3s reading {loopback.url('/hang')}"


def test_trickling_body_stops_at_overall_deadline(loopback: FeedServer) -> None:
    def trickle(h: RequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.end_headers()
        h.trickle(b"<rss>" + b" " * 1000, every=0.02)

    loopback.routes["/trickle"] = trickle
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/trickle"), allow_private=True, timeout=(1.0, 1.0), deadline=0.6)
    assert time.monotonic() - started < 2.5
    assert "overall deadline" in str(err.value)


def test_trickling_headers_stop_at_overall_deadline(loopback: FeedServer) -> None:
    def trickle_headers(h: RequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        h.trickle(b"X-Padding: " + b"a" * 500, every=0.02)

    loopback.routes["/trickle-headers"] = trickle_headers
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/trickle-headers"), allow_private=True, timeout=(1.0, 1.0),
              deadline=0.6)
    assert time.monotonic() - started < 2.5
    assert "overall deadline" in str(err.value)


def test_redirect_loop_is_reported(loopback: FeedServer) -> None:
    loopback.routes["/a"] = lambda h: h.reply(302, headers={"Location": "/b"})
    loopback.routes["/b"] = lambda h: h.reply(302, headers={"Location": loopback.url("/a")})
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/a"), allow_private=True, timeout=SHORT)
    assert str(err.value) == f"redirect loop at {loopback.url('/a')}"
    assert loopback.paths() == ["/a", "/b"]


def test_too_many_redirects(loopback: FeedServer) -> None:
    def hop(n: int) -> Callable[[RequestHandler], None]:
        return lambda h: h.reply(301, headers={"Location": f"/r{n + 1}"})

    for n in range(10):
        loopback.routes[f"/r{n}"] = hop(n)
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/r0"), allow_private=True, timeout=SHORT, max_redirects=3)
    assert str(err.value) == f"too many redirects (more than 3) from {loopback.url('/r0')}"
    assert loopback.paths() == ["/r0", "/r1", "/r2", "/r3"]


def test_followed_redirects_are_reported(loopback: FeedServer) -> None:
    loopback.routes["/old"] = lambda h: h.reply(301, headers={"Location": "/new"})
    loopback.routes["/new"] = lambda h: h.reply(200, FEED)
    result = fetch(loopback.url("/old"), allow_private=True, timeout=SHORT)
    assert result.body == FEED
    assert result.final_url == loopback.url("/new")
    assert result.redirects == (loopback.url("/new"),)
    assert result.permanent_redirect


def test_redirect_to_non_http_scheme_is_refused(loopback: FeedServer) -> None:
    loopback.routes["/sneaky"] = lambda h: h.reply(302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="redirect to a non-http URL"):
        fetch(loopback.url("/sneaky"), allow_private=True, timeout=SHORT)


def test_body_over_cap(loopback: FeedServer) -> None:
    loopback.routes["/big"] = lambda h: h.reply(200, b"x" * 300_000)
    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/big"), allow_private=True, timeout=SHORT, max_bytes=100_000)
    assert str(err.value) == f"body over 100000 bytes from {loopback.url('/big')}"


def test_body_at_cap_is_fine(loopback: FeedServer) -> None:
    loopback.routes["/exact"] = lambda h: h.reply(200, b"x" * 100_000)
    result = fetch(loopback.url("/exact"), allow_private=True, timeout=SHORT, max_bytes=100_000)
    assert len(result.body) == 100_000


def test_gzip_bomb_is_capped_on_decoded_size(loopback: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    loopback.routes["/bomb"] = lambda h: h.reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="body over 1048576 bytes"):
        fetch(loopback.url("/bomb"), allow_private=True, timeout=SHORT, max_bytes=1024 * 1024)


def test_gzip_and_deflate_bodies_are_decoded(loopback: FeedServer) -> None:
    loopback.routes["/gz"] = lambda h: h.reply(200, gzip.compress(FEED),
                                               {"Content-Encoding": "gzip"})
    loopback.routes["/zlib"] = lambda h: h.reply(200, zlib.compress(FEED),
                                                 {"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(FEED) + raw.flush()
    loopback.routes["/raw"] = lambda h: h.reply(200, raw_deflate, {"Content-Encoding": "deflate"})
    for path in ("/gz", "/zlib", "/raw"):
        assert fetch(loopback.url(path), allow_private=True, timeout=SHORT).body == FEED


def test_corrupt_gzip_is_one_line_error(loopback: FeedServer) -> None:
    loopback.routes["/bad-gz"] = lambda h: h.reply(200, b"not gzip at all",
                                                   {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="^corrupt gzip body from"):
        fetch(loopback.url("/bad-gz"), allow_private=True, timeout=SHORT)


def test_connection_refused(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/feed"
    with pytest.raises(FetchError) as err:
        fetch(url, timeout=SHORT, allow_private=True)
    assert str(err.value).startswith(f"cannot connect to {url}")


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "javascript:alert(1)",
                                 "data:text/xml,<rss/>"])
def test_only_http_schemes(url: str) -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        fetch(url)


def test_local_files_need_allow_local(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    for url in (str(path), path.as_uri()):
        with pytest.raises(FetchError, match="local files are not allowed"):
            fetch(url)
        result = fetch(url, allow_local=True)
        assert result.status == 200 and result.body == FEED
        assert result.final_url == path.resolve().as_uri()


def test_local_file_conditional_and_cap(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    first = fetch(str(path), allow_local=True)
    again = fetch(str(path), allow_local=True, last_modified=first.last_modified)
    assert again.not_modified and again.body == b""
    path.write_bytes(b"x" * 2000)
    with pytest.raises(FetchError, match="body over 1000 bytes"):
        fetch(str(path), allow_local=True, max_bytes=1000)
    with pytest.raises(FetchError, match="cannot read"):
        fetch(str(tmp_path / "missing.xml"), allow_local=True)


def test_shared_client_is_reused_and_left_open(loopback: FeedServer) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED)
    with make_client() as client:
        for _ in range(2):
            result = fetch(loopback.url("/feed"), allow_private=True, client=client,
                           timeout=SHORT)
            assert result.body == FEED
        assert not client.is_closed


def test_header_parsers() -> None:
    now = datetime(2025, 5, 1, tzinfo=UTC)
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Thu, 01 May 2025 00:02:00 GMT", now=now) == 120
    assert parse_retry_after("Wed, 30 Apr 2025 00:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("99999999") == 7 * 24 * 3600
    assert parse_max_age("public, max-age=300") == 300
    assert parse_max_age("no-store, max-age=300") is None
    assert parse_max_age("max-age=abc") is None
    assert parse_max_age(None) is None
