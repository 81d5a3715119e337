"""Fetch a feed's bytes with hard limits, so one bad server cannot stall or flood a poll.

feedparser's own fetching has no timeout (a hung fetch once stalled a whole scheduler); here
every fetch has connect and read timeouts, an overall deadline that also covers servers that
trickle bytes forever, a cap on the decoded body size (so a gzip bomb stops at the cap), a
redirect limit with loop detection, and conditional GET. Every failure is a one-line
:class:`FetchError`.

Every connection, the first and each redirect's, goes through :mod:`tracker.ingest.transport`,
which enforces the overall deadline and connects only to an address the network policy
(:mod:`tracker.ingest.netpolicy`) checked after resolving the name: internal addresses only
for a feed that allows them. Validators (ETag, Last-Modified) are kept as the latin-1 text of
the bytes the server sent, so they go back as the same bytes.
"""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import httpx

from tracker.ingest import netpolicy, transport

ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1")
MAX_BYTES = 5 * 1024 * 1024
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 20.0)
DEFAULT_DEADLINE = 60.0
#: Retry-After and max-age values above this are clamped: a typo must not silence a feed.
MAX_HINT_SECONDS = 7 * 24 * 3600.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Validators longer than this are not kept (they fit the ``feed_state`` columns).
MAX_ETAG_CHARS = 500
MAX_LAST_MODIFIED_CHARS = 100
#: What a header value may hold on the wire (RFC 9110 field-value: visible, obs-text, SP, HTAB).
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]+")


class FetchError(Exception):
    """A fetch that produced no usable body. ``str(err)`` is one line.

    ``status`` is the HTTP status when there was one; ``retry_after_seconds`` carries the
    server's Retry-After (429/503) so the scheduler can honour it.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None,
                 retry_after_seconds: float | None = None) -> None:
        super().__init__(_one_line(message))
        self.url = url
        self.status = status
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful (2xx) or not-modified (304) response; ``headers`` keys are lowercase.

    ``etag``/``last_modified`` are the validators to send next time (carried over from the
    request on a 304 that omits them). ``redirects`` lists the URLs passed through;
    ``permanent_redirect`` is true when every hop was 301/308, i.e. the subscription moved.
    """

    status: int
    body: bytes
    headers: dict[str, str]
    final_url: str
    etag: str | None
    last_modified: str | None
    not_modified: bool
    retry_after_seconds: float | None
    cache_max_age_seconds: float | None
    elapsed: float
    redirects: tuple[str, ...] = field(default=())
    permanent_redirect: bool = False


def _one_line(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _show(url: str) -> str:
    text = _one_line(netpolicy.redact(url))
    return text if len(text) <= 200 else text[:199] + "…"


# -- headers ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:
        return None
    return min(max(seconds, 0.0), MAX_HINT_SECONDS)


def parse_max_age(value: str | None) -> float | None:
    """``max-age`` from a Cache-Control value, or None (absent, unreadable, no-store)."""
    if not value:
        return None
    max_age: float | None = None
    for directive in value.split(","):
        name, _, arg = directive.strip().partition("=")
        name = name.strip().lower()
        if name == "no-store":
            return None
        if name == "max-age":
            try:
                max_age = float(int(arg.strip().strip('"')))
            except ValueError:
                return None
    if max_age is None:
        return None
    return min(max(max_age, 0.0), MAX_HINT_SECONDS)


# -- body decoding ----------------------------------------------------------------------------


class _Decoder:
    """Content-Encoding decoding that never produces more than it is asked for.

    Decompressing with ``max_length`` keeps a 10 KB gzip bomb from expanding a whole chunk
    into memory before the size cap is checked.
    """

    def __init__(self, content_encoding: str, url: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"unsupported content-encoding {content_encoding!r} from "
                             f"{_show(url)}", url=url)
        self._coding = codings[0] if codings else None
        self._first = True
        self._obj: Any = None
        if self._coding in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        self._url = url

    def decode(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            return data
        try:
            try:
                out: bytes = self._obj.decompress(data, max_length)
            except zlib.error:
                if not (self._first and self._coding == "deflate"):
                    raise
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._obj.decompress(data, max_length)
        except zlib.error as exc:
            raise FetchError(f"corrupt {self._coding} body from {_show(self._url)}: {exc}",
                             url=self._url) from None
        self._first = False
        return out

    def pending(self) -> bool:
        return self._obj is not None and bool(self._obj.unconsumed_tail)

    def drain(self, max_length: int) -> bytes:
        if self._obj is None:
            return b""
        try:
            if self._obj.unconsumed_tail:
                out: bytes = self._obj.decompress(self._obj.unconsumed_tail, max_length)
                return out
            tail: bytes = self._obj.flush(max(max_length, 1))
            return tail
        except zlib.error as exc:
            raise FetchError(f"corrupt {self._coding} body from {_show(self._url)}: {exc}",
                             url=self._url) from None


def _read_body(response: httpx.Response, url: str, max_bytes: int, deadline_at: float,
               deadline: float) -> bytes:
    decoder = _Decoder(response.headers.get("content-encoding", ""), url)
    parts: list[bytes] = []
    total = 0

    def take(chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"body over {max_bytes} bytes from {_show(url)}", url=url)
        parts.append(chunk)

    raw: Iterator[bytes] = response.iter_raw()
    for chunk in raw:
        take(decoder.decode(chunk, max_bytes - total + 1))
        while decoder.pending():
            take(decoder.drain(max_bytes - total + 1))
        if time.monotonic() > deadline_at:
            raise FetchError(_deadline_message(deadline, url), url=url)
    take(decoder.drain(max_bytes - total + 1))
    return b"".join(parts)


def _deadline_message(deadline: float, url: str) -> str:
    return f"timed out after {deadline:g}s (overall deadline) fetching {_show(url)}"


# -- local files ------------------------------------------------------------------------------


def _local_path(url: str) -> Path | None:
    """The path a file: URL or plain path names, or None for network URLs."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme == "" or (len(parts.scheme) == 1 and url[1:2] == ":"):
        return Path(url)
    return None


def _fetch_local(path: Path, last_modified: str | None, max_bytes: int,
                 started: float) -> FetchResult:
    try:
        stat = path.stat()
        if not path.is_file():
            raise FetchError(f"not a regular file: {_show(str(path))}")
        stamp = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if last_modified is not None and last_modified == stamp:
            body = b""
        else:
            with path.open("rb") as handle:
                body = handle.read(max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"cannot read {_show(str(path))}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FetchError(f"body over {max_bytes} bytes from {_show(str(path))}")
    not_modified = last_modified is not None and last_modified == stamp
    return FetchResult(
        status=304 if not_modified else 200, body=body, headers={"last-modified": stamp},
        final_url=path.resolve().as_uri(), etag=None, last_modified=stamp,
        not_modified=not_modified, retry_after_seconds=None, cache_max_age_seconds=None,
        elapsed=time.monotonic() - started)


# -- fetch ------------------------------------------------------------------------------------


def _wire(value: str | None, limit: int) -> bytes | None:
    """A stored validator as the bytes it arrived as, or None when it cannot be sent (a value
    stored before validators were kept as latin-1, say): the fetch is then unconditional."""
    if not value or len(value) > limit:
        return None
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return raw if _FIELD_VALUE.fullmatch(raw) else None


def _validator(response: httpx.Response, name: bytes, limit: int) -> str | None:
    """A validator as the latin-1 text of its bytes, or None when it could not be sent back."""
    raw = next((v for k, v in response.headers.raw if k.lower() == name), None)
    if raw is None:
        return None
    text = raw.strip().decode("latin-1")
    return text if _wire(text, limit) is not None else None


def _request_headers(etag: bytes | None, last_modified: bytes | None,
                     ) -> list[tuple[bytes, bytes]]:
    headers = [(b"Accept", ACCEPT.encode()), (b"Accept-Encoding", b"gzip, deflate")]
    if etag:
        headers.append((b"If-None-Match", etag))
    if last_modified:
        headers.append((b"If-Modified-Since", last_modified))
    return headers


def _transport_error(exc: httpx.HTTPError | httpx.InvalidURL, url: str,
                     timeout: tuple[float, float], deadline: float,
                     deadline_at: float) -> FetchError:
    if isinstance(exc, httpx.TimeoutException):
        if time.monotonic() >= deadline_at - 0.01:
            return FetchError(_deadline_message(deadline, url), url=url)
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return FetchError(f"timed out after {timeout[0]:g}s connecting to {_show(url)}",
                              url=url)
        return FetchError(f"timed out after {timeout[1]:g}s reading {_show(url)}", url=url)
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"cannot connect to {_show(url)}: {exc}", url=url)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"invalid URL {_show(url)}: {exc}", url=url)
    return FetchError(f"{type(exc).__name__} from {_show(url)}: {exc}", url=url)


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = 5,
    client: httpx.Client | None = None,
    allow_local: bool = False,
    allow_private: bool = False,
    deadline: float = DEFAULT_DEADLINE,
) -> FetchResult:
    """GET ``url`` within ``timeout`` = (connect, read) seconds per operation and
    ``deadline`` seconds overall, returning at most ``max_bytes`` decoded bytes.

    http/https only; ``file://`` URLs and plain paths only with ``allow_local``; internal
    addresses, for the URL and every redirect, only with ``allow_private`` (``client`` must
    come from :func:`transport.make_client` for that to hold). 2xx and 304 return a
    :class:`FetchResult`; anything else raises :class:`FetchError`.
    """
    started = time.monotonic()
    deadline_at = started + deadline
    local = _local_path(url)
    if local is not None:
        if not allow_local:
            raise FetchError(f"local files are not allowed: {_show(url)}", url=url)
        return _fetch_local(local, last_modified, max_bytes, started)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {scheme!r}: {_show(url)}", url=url)

    http = client if client is not None else transport.make_client()
    owned = contextlib.closing(http) if client is None else contextlib.nullcontext()
    seen: list[str] = []
    current = url
    permanent = True
    sent_etag = _wire(etag, MAX_ETAG_CHARS)
    sent_last_modified = _wire(last_modified, MAX_LAST_MODIFIED_CHARS)
    with owned, transport.overall_deadline(deadline_at):
        while True:
            seen.append(current)
            try:
                response = transport.send(
                    http, "GET", current,
                    headers=_request_headers(sent_etag, sent_last_modified),
                    timeout=timeout, allow_private=allow_private)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _transport_error(exc, current, timeout, deadline, deadline_at) from None
            except netpolicy.AddressRefused as exc:
                raise _refused(exc, url, current) from None
            try:
                status = response.status_code
                if status in REDIRECT_STATUSES and "location" in response.headers:
                    permanent = permanent and status in (301, 308)
                    location = response.headers["location"].strip()
                    target = urljoin(current, location)
                    if urlsplit(target).scheme.lower() not in ("http", "https"):
                        raise FetchError(f"redirect to a non-http URL from {_show(current)}",
                                         url=current, status=status)
                    if netpolicy.has_credentials(location):
                        raise FetchError(f"redirect to a URL with credentials from "
                                         f"{_show(current)}", url=current, status=status)
                    if target in seen:
                        raise FetchError(f"redirect loop at {_show(target)}", url=url,
                                         status=status)
                    if len(seen) > max_redirects:
                        raise FetchError(f"too many redirects (more than {max_redirects}) "
                                         f"from {_show(url)}", url=url, status=status)
                    current = target
                    continue
                return _finish(response, current, seen, permanent,
                               etag if sent_etag else None,
                               last_modified if sent_last_modified else None,
                               max_bytes, deadline, deadline_at, started)
            except httpx.HTTPError as exc:
                raise _transport_error(exc, current, timeout, deadline, deadline_at) from None
            finally:
                response.close()


def _refused(exc: netpolicy.AddressRefused, url: str, current: str) -> FetchError:
    """The same line whether anything listens at the address or not: nothing was sent."""
    where = "" if current == url else f"redirect to {_show(current)}: "
    return FetchError(f"refused: {where}{exc} ({netpolicy.HINT})", url=current)


def _finish(response: httpx.Response, current: str, seen: list[str], permanent: bool,
            etag: str | None, last_modified: str | None, max_bytes: int, deadline: float,
            deadline_at: float, started: float) -> FetchResult:
    status = response.status_code
    headers = {k.lower(): v for k, v in response.headers.items()}
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 304:
        body = b""
    elif 200 <= status < 300:
        body = _read_body(response, current, max_bytes, deadline_at, deadline)
    else:
        hint = f"; retry after {retry_after:g}s" if retry_after is not None else ""
        raise FetchError(f"HTTP {status} from {_show(current)}{hint}", url=current,
                         status=status, retry_after_seconds=retry_after)
    return FetchResult(
        status=status,
        body=body,
        headers=headers,
        final_url=current,
        etag=_validator(response, b"etag", MAX_ETAG_CHARS)
        or (etag if status == 304 else None),
        last_modified=_validator(response, b"last-modified", MAX_LAST_MODIFIED_CHARS)
        or (last_modified if status == 304 else None),
        not_modified=status == 304,
        retry_after_seconds=retry_after,
        cache_max_age_seconds=parse_max_age(headers.get("cache-control")),
        elapsed=time.monotonic() - started,
        redirects=tuple(seen[1:]),
        permanent_redirect=len(seen) > 1 and permanent,
    )
