"""fetch() and the network policy: internal addresses refused in every spelling, for the URL
and every redirect, before any connection; names judged by what they resolve to; validators
sent back as the bytes they came as. Against real loopback servers."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.feed_server import FeedServer, RequestHandler
from tracker.ingest import netpolicy
from tracker.ingest.fetch import FetchError, fetch
from tracker.ingest.transport import make_client

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
SHORT = (1.0, 0.5)
SERVER = ipaddress.ip_address("127.0.0.1")

#: Every way of writing an internal address the issue found accepted, and a few more.
INTERNAL_HOSTS = ["169.254.169.254", "localhost", "127.1", "0", "2130706433", "0x7f000001",
                  "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1", "172.16.5.4",
                  "192.168.1.1", "100.64.0.1", "224.0.0.1", "255.255.255.255", "[fe80::1]",
                  "[fc00::1]", "[::]", "[2002:7f00:1::]", "LOCALHOST.", "feeds.localhost"]


def resolver(names: dict[str, str]) -> netpolicy.Resolver:
    """DNS for the test: ``names`` answer as given, anything else as the system says."""
    def resolve(host: str, port: int) -> list[str]:
        return [names[host]] if host in names else netpolicy.system_resolver(host, port)
    return resolve


def public_server(ip: netpolicy.IPAddress) -> bool:
    """The policy, with the loopback test server standing for a host on the internet."""
    return ip != SERVER and netpolicy.is_internal(ip)


@pytest.fixture
def as_public() -> Iterator[httpx.Client]:
    """A client for which ``public.test`` is the loopback test server, and a public host."""
    with make_client(resolver({"public.test": "127.0.0.1",
                               "metadata.test": "169.254.169.254"}), public_server) as client:
        yield client


@pytest.fixture
def inside() -> Iterator[FeedServer]:
    """A second server, on 127.0.0.2: a machine on the internal network."""
    try:
        server = FeedServer("127.0.0.2")
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    with server:
        yield server


# -- addresses ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_every_spelling_of_an_internal_address_is_refused_before_connecting(
        loopback: FeedServer, host: str) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED)

    url = f"http://{host}:{loopback.port}/feed"
    with pytest.raises(FetchError) as err:
        fetch(url, timeout=SHORT)

    assert str(err.value).startswith(f"refused: {httpx.URL(url).host} ")
    assert "internal address" in str(err.value) and "--allow-private" in str(err.value)
    assert loopback.requests == []


def test_an_address_httpx_cannot_read_is_refused_too(loopback: FeedServer) -> None:
    with pytest.raises(FetchError, match="^invalid URL http://0177.0.0.1:"):
        fetch(f"http://0177.0.0.1:{loopback.port}/feed", timeout=SHORT)
    assert loopback.requests == []


def test_the_refusal_says_nothing_about_the_port(loopback: FeedServer,
                                                 closed_port: int) -> None:
    loopback.routes["/admin"] = lambda h: h.reply(403, b"forbidden")
    answers = []
    for port in (loopback.port, closed_port):
        with pytest.raises(FetchError) as err:
            fetch(f"http://127.0.0.1:{port}/admin", timeout=SHORT)
        answers.append(str(err.value))

    assert answers[0] == answers[1] == (
        f"refused: 127.0.0.1 is an internal address ({netpolicy.HINT})")
    assert loopback.requests == []


def test_a_name_resolving_to_loopback_is_refused(loopback: FeedServer) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED)
    with make_client(resolver({"feeds.example.com": "127.0.0.1"})) as client, \
            pytest.raises(FetchError) as err:
        fetch(f"http://feeds.example.com:{loopback.port}/feed", client=client, timeout=SHORT)

    assert str(err.value) == ("refused: feeds.example.com resolves to an internal address "
                              f"(127.0.0.1) ({netpolicy.HINT})")
    assert loopback.requests == []


def test_a_name_with_any_internal_address_is_refused(loopback: FeedServer) -> None:
    def both(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    with make_client(both) as client, pytest.raises(FetchError, match=r"\(127\.0\.0\.1\)"):
        fetch(f"http://mixed.example:{loopback.port}/feed", client=client, timeout=SHORT)
    assert loopback.requests == []


def test_allow_private_connects_to_the_address_it_checked(loopback: FeedServer) -> None:
    asked: list[tuple[str, int]] = []

    def intranet(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    loopback.routes["/feed"] = lambda h: h.reply(200, FEED)
    with make_client(intranet) as client:
        result = fetch(f"http://news.intranet.test:{loopback.port}/feed", client=client,
                       timeout=SHORT, allow_private=True)

    # the name has no DNS entry: the connection went where the resolver said, once asked
    assert result.body == FEED
    assert asked == [("news.intranet.test", loopback.port)]
    assert loopback.requests[0].headers["host"] == f"news.intranet.test:{loopback.port}"


def test_a_connection_kept_for_a_private_feed_is_not_lent_to_another(
        loopback: FeedServer) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED)
    with make_client() as client:
        fetch(loopback.url("/feed"), client=client, timeout=SHORT, allow_private=True)
        with pytest.raises(FetchError, match="^refused: "):
            fetch(loopback.url("/feed"), client=client, timeout=SHORT)
    assert len(loopback.requests) == 1


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/", "http://metadata.test/latest/meta-data/",
    "http://[::1]:8080/", "http://2130706434/", "http://10.1.2.3/admin", "http://localhost/"])
def test_a_redirect_to_an_internal_address_is_refused(loopback: FeedServer,
                                                      as_public: httpx.Client,
                                                      target: str) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(302, headers={"Location": target})

    with pytest.raises(FetchError) as err:
        fetch(f"http://public.test:{loopback.port}/feed", client=as_public, timeout=SHORT)

    assert str(err.value).startswith(f"refused: redirect to {target}: ")
    assert "internal address" in str(err.value)
    assert loopback.paths() == ["/feed"]


def test_a_redirect_inside_is_followed_only_with_allow_private(
        loopback: FeedServer, inside: FeedServer, as_public: httpx.Client) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(301, headers={"Location": inside.url("/x")})
    inside.routes["/x"] = lambda h: h.reply(200, FEED)
    start = f"http://public.test:{loopback.port}/feed"

    with pytest.raises(FetchError, match="^refused: redirect to "):
        fetch(start, client=as_public, timeout=SHORT)
    assert inside.requests == []

    result = fetch(start, client=as_public, timeout=SHORT, allow_private=True)
    assert result.body == FEED and result.final_url == inside.url("/x")


def test_a_redirect_carrying_credentials_is_refused(loopback: FeedServer) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(
        301, headers={"Location": f"http://reader:s3cret@127.0.0.1:{loopback.port}/x"})

    with pytest.raises(FetchError) as err:
        fetch(loopback.url("/feed"), timeout=SHORT, allow_private=True)

    assert str(err.value) == f"redirect to a URL with credentials from {loopback.url('/feed')}"
    assert loopback.paths() == ["/feed"]


def test_messages_never_show_credentials(closed_port: int) -> None:
    with pytest.raises(FetchError) as err:
        fetch(f"http://reader:s3cret@127.0.0.1:{closed_port}/feed", timeout=SHORT,
              allow_private=True)
    assert str(err.value).startswith(f"cannot connect to http://127.0.0.1:{closed_port}/feed")
    assert "s3cret" not in str(err.value) and "reader" not in str(err.value)


# -- validators ---------------------------------------------------------------------------------


def conditional(etag: bytes, last_modified: bytes) -> Callable[[RequestHandler], None]:
    """A route that sends these validator bytes and answers 304 when both come back."""
    tag, stamp = etag.decode("latin-1"), last_modified.decode("latin-1")

    def handle(h: RequestHandler) -> None:
        if h.headers.get("If-None-Match") == tag and h.headers.get("If-Modified-Since") == stamp:
            h.reply(304, headers={"ETag": tag})
        else:
            h.reply(200, FEED, {"ETag": tag, "Last-Modified": stamp})
    return handle


@pytest.mark.parametrize("etag", ['"café-v1"'.encode(), '"café-v1"'.encode("latin-1"),
                                  'W/"中文-2"'.encode()], ids=["utf-8", "latin-1", "chinese"])
def test_non_ascii_validators_go_back_as_the_same_bytes(loopback: FeedServer,
                                                         etag: bytes) -> None:
    stamp = "Tue, 29 Apr 2025 02:00:00 GMT (heure d'été)".encode()
    loopback.routes["/feed"] = conditional(etag, stamp)

    first = fetch(loopback.url("/feed"), timeout=SHORT, allow_private=True)
    assert first.status == 200
    assert first.etag is not None and first.last_modified is not None
    second = fetch(loopback.url("/feed"), etag=first.etag, last_modified=first.last_modified,
                   timeout=SHORT, allow_private=True)

    assert second.not_modified
    sent = loopback.requests[-1].headers
    assert sent["if-none-match"].encode("latin-1") == etag
    assert sent["if-modified-since"].encode("latin-1") == stamp
    assert second.etag == first.etag


@pytest.mark.parametrize("stored", ['"中"', 'bad\r\nX-Injected: 1', "x" * 501],
                         ids=["not-latin-1", "control-characters", "too-long"])
def test_a_stored_validator_that_cannot_be_sent_means_an_unconditional_fetch(
        loopback: FeedServer, stored: str) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED, {"ETag": '"v2"'})

    result = fetch(loopback.url("/feed"), etag=stored, last_modified=stored, timeout=SHORT,
                   allow_private=True)

    assert result.status == 200 and result.etag == '"v2"'
    sent = loopback.requests[-1].headers
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_a_validator_too_long_to_keep_is_not_kept(loopback: FeedServer) -> None:
    loopback.routes["/feed"] = lambda h: h.reply(200, FEED, {"ETag": '"' + "a" * 600 + '"'})
    result = fetch(loopback.url("/feed"), timeout=SHORT, allow_private=True)
    assert result.status == 200 and result.etag is None


# -- the policy on its own ----------------------------------------------------------------------


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "64:ff9b::808:808",
                                     "2002:808:808::1"])
def test_public_addresses_pass(address: str) -> None:
    assert not netpolicy.is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["100.127.255.254", "::ffff:8.8.8.8", "64:ff9b::a00:1",
                                     "fec0::1", "ff02::1", "192.0.2.1", "198.18.0.1",
                                     "240.0.0.1"])
def test_internal_addresses_are_internal(address: str) -> None:
    assert netpolicy.is_internal(ipaddress.ip_address(address))

