"""Feed bytes in, sanitised and bounded items out — or a one-line refusal.

feedparser is used for what it is good at (RSS/Atom dialects, dates, malformed-but-usable
XML) and fenced off from what it gets wrong: it is only ever handed a byte stream, its SAX
parser is pinned to expat, bodies with entity declarations never reach it, encodings are
decided here, and everything it returns is re-sanitised as plain text.

Decisions:

* A body that is empty, HTML, JSON, or carries DTD entity declarations is refused
  (:class:`FeedError`). A DOCTYPE without an internal subset (RSS 0.91's Netscape DTD) is
  allowed: nothing here ever loads an external DTD.
* A known RSS/Atom version with zero entries is a valid, quiet feed (an empty ParsedFeed).
  An unknown version with no entries is "not a feed". Malformed XML with entries keeps the
  entries and adds a warning; malformed XML with no entries is refused.
* Stored text is plain text, links are absolute canonical http(s) or None
  (:mod:`tracker.ingest.sanitise`).
* Guids are opaque and never resolved against the feed's URL, so a feed that moves does not
  re-key its items; relative links are resolved here, against ``base_url``.
* Encodings follow :func:`tracker.ingest.encoding.decode_body`; feedparser always receives
  UTF-8.
"""

from __future__ import annotations

import calendar
import io
import re
import time
import warnings as pywarnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as defused_et
import feedparser
import feedparser.api
from dateutil import parser as date_parser

from tracker.ingest.encoding import as_utf8_xml, decode_body
from tracker.ingest.identity import content_hash, dedupe_items
from tracker.ingest.sanitise import clean_block, clean_guid, clean_line, one_line, safe_link

MAX_TITLE = 500
MAX_SUMMARY = 4000
MAX_AUTHOR = 200
MAX_FEED_TITLE = 300
MAX_ITEMS = 1000
EPOCH_FLOOR = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)
MAX_TTL_MINUTES = 7 * 24 * 60
#: The only SAX driver feedparser may use: libxml2's driver resolves external entities.
SAFE_SAX_PARSERS: tuple[str, ...] = ("xml.sax.expatreader",)

DateFlag = Literal["missing", "future", "epoch"]
PublishedSource = Literal["feed", "fetch_time"]


class FeedError(ValueError):
    """A body that cannot or must not be used as a feed; the message is one line."""


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry, sanitised: plain-text title and summary, a safe canonical link."""

    guid: str | None
    title: str
    link: str | None
    published: datetime
    published_source: PublishedSource
    date_flags: tuple[str, ...]
    summary: str
    author: str | None
    content_hash: str
    #: An aggregator's ``<source url="...">``: the publisher's site (never the redirect link).
    source_url: str | None = None
    source_name: str | None = None


@dataclass(slots=True)
class ParsedFeed:
    """A parsed feed: its items in feed order and what was odd about it."""

    title: str
    version: str
    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ttl_minutes: int | None = None
    encoding: str = "utf-8"
    link: str | None = None


def pin_safe_xml_parser() -> None:
    """Make feedparser build expat, never drv_libxml2, whatever is importable."""
    feedparser.api.PREFERRED_XML_PARSERS = list(SAFE_SAX_PARSERS)


pin_safe_xml_parser()

# -- refusals ---------------------------------------------------------------------------------

_ENTITY_DECL_BYTES = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_PROLOG_JUNK = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_HTML_DOCTYPE = re.compile(r"<!DOCTYPE\s+html", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def refuse_unsafe(data: bytes, raw: bytes) -> None:
    """Raise FeedError for bodies that must never reach feedparser.

    ``data`` is the body as UTF-8 with a UTF-8 declaration, ``raw`` the bytes as received.
    Entity declarations are what billion-laughs, quadratic blow-up and external-entity
    (local file, SSRF) attacks need; no real feed needs them. Plain syntax errors are not
    refusals: malformed feeds are often still usable.
    """
    if _ENTITY_DECL_BYTES.search(data) or _ENTITY_DECL_BYTES.search(raw.replace(b"\x00", b"")):
        raise FeedError("refused: the body declares DTD entities (entity expansion or "
                        "external entity attack)")
    try:
        defused_et.fromstring(data, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden,
            defusedxml.ExternalReferenceForbidden) as exc:
        raise FeedError(f"refused: {type(exc).__name__} in the body's DTD") from None
    except (ParseError, ValueError):
        pass


def _sniff_not_xml(text: str, headers: Mapping[str, str]) -> None:
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise FeedError("empty body")
    if stripped[0] in "{[":
        raise FeedError("JSON, not a feed")
    start = _PROLOG_JUNK.match(stripped)
    rest = stripped[start.end():] if start else stripped
    if _HTML_DOCTYPE.match(rest):
        raise FeedError("HTML page, not a feed")
    first = _FIRST_ELEMENT.search(rest)
    if first and first.group(1).split(":")[-1].lower() == "html":
        raise FeedError("HTML page, not a feed")
    if first is None:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        kind = "JSON" if "json" in content_type.lower() else "text"
        raise FeedError(f"{kind}, not a feed (no XML element)")


# -- dates ------------------------------------------------------------------------------------

_TZINFOS = {"HKT": 8 * 3600, "SGT": 8 * 3600, "BJT": 8 * 3600}
_CJK_DATE = str.maketrans({"年": "-", "月": "-", "日": " ", "时": ":", "時": ":", "分": " "})


def _struct_to_datetime(value: Any) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _fallback_date(raw: str) -> datetime | None:
    """dateutil for strings feedparser could not read (including 2025年4月29日 forms)."""
    text = raw.strip().translate(_CJK_DATE)
    if not text or len(text) > 100:
        return None
    try:
        with pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            parsed = date_parser.parse(text, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _plain_get(entry: Mapping[str, Any], key: str) -> Any:
    """Read a key without FeedParserDict's deprecated updated->published aliasing."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _entry_date(entry: Mapping[str, Any]) -> tuple[datetime | None, bool]:
    """(date, had_a_date_string): feedparser's parsed dates first, dateutil second."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = _struct_to_datetime(_plain_get(entry, key))
        if parsed is not None:
            return parsed, True
    had = False
    for key in ("published", "updated", "created"):
        raw = _plain_get(entry, key)
        if isinstance(raw, str) and raw.strip():
            had = True
            parsed = _fallback_date(raw)
            if parsed is not None:
                return parsed, True
    return None, had


def place_in_time(
    value: datetime | None, fetched_at: datetime,
) -> tuple[datetime, PublishedSource, tuple[str, ...]]:
    """Trust a feed date unless it is missing, before 1990 or more than two days ahead."""
    if value is None:
        return fetched_at, "fetch_time", ("missing",)
    if value < EPOCH_FLOOR:
        return fetched_at, "fetch_time", ("epoch",)
    if value > fetched_at + FUTURE_SLACK:
        return fetched_at, "fetch_time", ("future",)
    return value, "feed", ()


# -- parse ------------------------------------------------------------------------------------


def _entry_link(entry: Mapping[str, Any], base_url: str) -> str | None:
    candidates: list[Any] = [entry.get("link")]
    for link in entry.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate":
            candidates.append(link.get("href"))
    if entry.get("guidislink"):
        candidates.append(entry.get("id"))
    for raw in candidates:
        if isinstance(raw, str):
            link = safe_link(raw, base_url)
            if link:
                return link
    return None


def _entry_summary(entry: Mapping[str, Any]) -> str:
    summary = entry.get("summary")
    if isinstance(summary, str) and summary.strip():
        return summary
    for content in entry.get("content") or []:
        value = content.get("value") if isinstance(content, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _entry_source(entry: Mapping[str, Any], base_url: str) -> tuple[str | None, str | None]:
    """(url, name) of the publisher an aggregator's ``<source>`` names, when it names one."""
    source = entry.get("source")
    if not isinstance(source, Mapping):
        return None, None
    href = source.get("href") or source.get("url")
    url = safe_link(href, base_url) if isinstance(href, str) else None
    name = clean_line(source.get("title"), MAX_AUTHOR) or None
    return url, name


def _ttl(feed: Mapping[str, Any], notes: list[str]) -> int | None:
    raw = feed.get("ttl")
    if raw is None:
        return None
    try:
        minutes = int(str(raw).strip())
    except ValueError:
        notes.append(f"unreadable <ttl> {str(raw)[:20]!r} ignored")
        return None
    if minutes <= 0:
        return None
    return min(minutes, MAX_TTL_MINUTES)


def _aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_feed(
    body: bytes, headers: Mapping[str, str], *, fetched_at: datetime, base_url: str,
) -> ParsedFeed:
    """Parse fetched bytes into a :class:`ParsedFeed`, or raise :class:`FeedError`.

    ``headers`` are the response headers (any case); ``base_url`` resolves relative links
    (the final URL after redirects); ``fetched_at`` stands in for missing or absurd dates.
    """
    fetched_at = _aware_utc(fetched_at)
    if not body or not body.strip():
        raise FeedError("empty body")
    text, encoding, notes = decode_body(body, headers)
    _sniff_not_xml(text, headers)
    data = as_utf8_xml(text)
    refuse_unsafe(data, body)

    parser_headers = {"content-type": "application/xml; charset=utf-8"}
    language = next((v for k, v in headers.items() if k.lower() == "content-language"), None)
    if language:
        parser_headers["content-language"] = language
    pin_safe_xml_parser()
    try:
        result = feedparser.parse(io.BytesIO(data), response_headers=parser_headers,
                                  sanitize_html=True, resolve_relative_uris=False)
    except Exception as exc:  # a third-party parser on hostile input: report, never crash
        raise FeedError(f"feed could not be parsed: {type(exc).__name__}") from None

    version = str(result.get("version") or "")
    entries: list[Any] = list(result.get("entries") or [])
    bozo = bool(result.get("bozo"))
    if not version and not entries:
        raise FeedError("not a feed (no RSS or Atom document found)")
    if bozo and not entries:
        raise FeedError(f"malformed feed with no items: {one_line(result.get('bozo_exception'))}")
    if bozo:
        notes.append(f"malformed XML, kept what parsed ({len(entries)} entries): "
                     f"{one_line(result.get('bozo_exception'))}")
    if not version:
        notes.append("unknown feed version; entries kept")
    if len(entries) > MAX_ITEMS:
        notes.append(f"{len(entries)} entries; only the first {MAX_ITEMS} kept")
        entries = entries[:MAX_ITEMS]

    feed_meta: Mapping[str, Any] = result.get("feed") or {}
    parsed = ParsedFeed(
        title=clean_line(feed_meta.get("title"), MAX_FEED_TITLE),
        version=version or "unknown",
        warnings=notes,
        ttl_minutes=_ttl(feed_meta, notes),
        encoding=encoding,
        link=safe_link(feed_meta.get("link"), base_url),
    )

    items: list[Item] = []
    unsafe_guids = unreadable_dates = empty = 0
    for entry in entries:
        guid, unsafe = clean_guid(entry.get("id"))
        unsafe_guids += unsafe
        title = clean_line(entry.get("title"), MAX_TITLE)
        summary = clean_block(_entry_summary(entry), MAX_SUMMARY)
        link = _entry_link(entry, base_url)
        if not (title or summary):
            empty += 1
            continue
        if not title:
            title = clean_line(summary, 120)
        published_value, had_date = _entry_date(entry)
        if published_value is None and had_date:
            unreadable_dates += 1
        published, source, flags = place_in_time(published_value, fetched_at)
        author = clean_line(entry.get("author"), MAX_AUTHOR) or None
        source_url, source_name = _entry_source(entry, base_url)
        items.append(Item(guid=guid, title=title, link=link, published=published,
                          published_source=source, date_flags=flags, summary=summary,
                          author=author, content_hash=content_hash(title, summary),
                          source_url=source_url, source_name=source_name))

    kept, duplicates = dedupe_items(items)
    parsed.items = kept
    if duplicates:
        notes.append(f"{duplicates} duplicate item(s) dropped (same guid or link); "
                     "the first was kept")
    if unsafe_guids:
        notes.append(f"{unsafe_guids} guid(s) with a script or data URL discarded")
    if unreadable_dates:
        notes.append(f"{unreadable_dates} item date(s) could not be read; fetch time used")
    if empty:
        notes.append(f"{empty} entries without a title or summary skipped")
    return parsed
