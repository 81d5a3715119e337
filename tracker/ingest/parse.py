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
* A date is the feed's only when it is readable and plausible (an offset within ±14:00, not
  before 1990, at most two days ahead); otherwise it is unknown, the item is placed at the
  time it was first seen and says so (``published_source == "first_seen"``).
* An item whose body is cut off (a teaser ending in "…" or "Read more", or the last item of a
  body that ends mid-item) is flagged ``truncated``; the text the feed did give is kept, and
  a fuller ``<content>`` is preferred to a teaser summary.
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
from tracker.ingest.identity import content_hash, dedupe
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

#: Offsets beyond these exist nowhere (UTC-12:00 to UTC+14:00): a "+2500" is a broken date.
MAX_OFFSET_MINUTES = 14 * 60

DateFlag = Literal["missing", "unreadable", "future", "epoch"]
#: ``first_seen``: the feed gave no usable date; ``published`` is when it was first fetched.
PublishedSource = Literal["feed", "first_seen"]


class FeedError(ValueError):
    """A body that cannot or must not be used as a feed; the message is one line."""


@dataclass(frozen=True, slots=True)
class Item:
    """One feed entry, sanitised: plain-text title and summary, a safe canonical link.

    ``published`` orders the item and places it in matching windows: the feed's date, or the
    fetch time when the feed gave none usable (``published_source == "first_seen"``; then
    :attr:`published_date` is None).
    """

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
    #: The feed gave only the start of the body (a teaser, or a body cut off mid-item).
    truncated: bool = False

    @property
    def published_date(self) -> datetime | None:
        """The publication date the feed gave, or None when it gave none usable."""
        return self.published if self.published_source == "feed" else None


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


_OFFSET = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:GMT|UTC)?\s*([+-])(\d{1,2})(?::?(\d{2}))?\b",
    re.IGNORECASE)


def implausible_offset(raw: str) -> bool:
    """True when a date string's UTC offset (after its time of day) is beyond ±14:00 or has
    60 or more minutes: feedparser would otherwise shift the date by a day or more."""
    match = _OFFSET.search(raw)
    if match is None:
        return False
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    return minutes >= 60 or hours * 60 + minutes > MAX_OFFSET_MINUTES


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
    offset = parsed.utcoffset()
    if offset is not None and abs(offset) > timedelta(minutes=MAX_OFFSET_MINUTES):
        return None
    return parsed.astimezone(UTC)


def _plain_get(entry: Mapping[str, Any], key: str) -> Any:
    """Read a key without FeedParserDict's deprecated updated->published aliasing."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


_DATE_KEYS = ("published", "updated", "created")


def _entry_date(entry: Mapping[str, Any]) -> tuple[datetime | None, bool]:
    """(date, had_a_date_string): feedparser's parsed dates first, dateutil second; a date
    whose string has an impossible offset is never used."""
    raws = {key: _plain_get(entry, key) for key in _DATE_KEYS}
    usable = {key: raw for key, raw in raws.items()
              if not (isinstance(raw, str) and implausible_offset(raw))}
    for key in _DATE_KEYS:
        if key in usable:
            parsed = _struct_to_datetime(_plain_get(entry, f"{key}_parsed"))
            if parsed is not None:
                return parsed, True
    had = any(isinstance(raw, str) and raw.strip() for raw in raws.values())
    for raw in usable.values():
        if isinstance(raw, str) and raw.strip():
            parsed = _fallback_date(raw)
            if parsed is not None:
                return parsed, True
    return None, had


def place_in_time(
    value: datetime | None, fetched_at: datetime, had_date: bool = False,
) -> tuple[datetime, PublishedSource, tuple[str, ...]]:
    """Trust a feed date unless it is missing, unreadable, before 1990 or more than two days
    ahead; an untrusted date is unknown, and the item is placed when it was first seen."""
    if value is None:
        return fetched_at, "first_seen", ("unreadable" if had_date else "missing",)
    if value < EPOCH_FLOOR:
        return fetched_at, "first_seen", ("epoch",)
    if value > fetched_at + FUTURE_SLACK:
        return fetched_at, "first_seen", ("future",)
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


# -- truncated bodies ---------------------------------------------------------------------------

#: How feeds end a body they cut short: an ellipsis, "[…]", "Read more", "Continue reading",
#: "more »", 阅读全文.
_TEASER_END = re.compile(
    r"(?:…|\.{3}|\[\s*(?:…|\.{3}|more|read more)\s*\]|\(\s*(?:more|read more)\s*\)"
    r"|\bread\s+more\b|\bcontinue\s+reading\b|\bread\s+the\s+(?:full|rest|whole)\b[^.!?]{0,30}"
    r"|\bmore\s*(?:»|›|→|>>)|[阅閱查][读讀看]?全文)[\s\W]{0,4}$", re.IGNORECASE)
_ENTRY_OPEN = re.compile(r"<(?:[\w.-]{1,40}:)?(item|entry)(?=[\s>/])[^<>]{0,2000}>",
                         re.IGNORECASE)
_BODY_OPEN = re.compile(r"<((?:[\w.-]{1,40}:)?(?:description|summary|content|encoded))"
                        r"(?=[\s>/])[^<>]{0,2000}>", re.IGNORECASE)
_CDATA_MARKS = re.compile(r"<!\[CDATA\[|\]\]>")


def is_teaser(text: str) -> bool:
    """True when a body ends the way feeds end a body they cut short."""
    return bool(_TEASER_END.search(text))


def _stem(text: str) -> str:
    """The text without a teaser ending, spacing and case folded, for prefix comparisons."""
    return " ".join(_TEASER_END.sub("", text).split()).casefold()


def is_cut_of(short: str, full: str) -> bool:
    """True when ``short`` is only the start of ``full`` (a teaser or cut-off copy of it)."""
    stem, whole = _stem(short), " ".join(full.split()).casefold()
    return len(stem) < len(whole) and whole.startswith(stem)


def _entry_body(entry: Mapping[str, Any]) -> tuple[str, bool]:
    """(text, truncated): the summary, or the longest ``<content>`` when the summary is empty
    or only a teaser; truncated when what is kept still ends like a teaser."""
    summary = entry.get("summary")
    text = clean_block(summary, MAX_SUMMARY) if isinstance(summary, str) else ""
    if text and not is_teaser(text):
        return text, False
    for content in entry.get("content") or []:
        value = content.get("value") if isinstance(content, Mapping) else None
        full = clean_block(value, MAX_SUMMARY) if isinstance(value, str) else ""
        if len(full) > len(text):
            text = full
    return text, bool(text) and is_teaser(text)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return next(reversed(list(pattern.finditer(text))), None)


def _cut_off_entry(text: str, entries: int) -> tuple[int | None, str | None]:
    """(index, text so far) of the entry a document cut off mid-item, when feedparser's
    entries line up with the items opened in the text; (None, None) otherwise."""
    cut = cut_off_body(text)
    if cut is None or entries == 0 or len(_ENTRY_OPEN.findall(text)) != entries:
        return None, None
    return entries - 1, cut


def cut_off_body(text: str) -> str | None:
    """When the document ends inside its last item, the text its body had got to ("" when
    the cut came before any body); None when the last item is complete or its body was.

    feedparser keeps such an item with no body at all, so what the feed did give would be
    lost; the caller flags the item as truncated and keeps this text instead.
    """
    opened = _last(_ENTRY_OPEN, text)
    if opened is None:
        return None
    tail = text[opened.end():]
    if re.search(rf"</(?:[\w.-]{{1,40}}:)?{opened.group(1)}\s*>", tail, re.IGNORECASE):
        return None
    body = _last(_BODY_OPEN, tail)
    if body is None:
        return ""
    rest = tail[body.end():]
    if re.search(rf"</{re.escape(body.group(1))}\s*>", rest, re.IGNORECASE):
        return None
    return clean_block(_CDATA_MARKS.sub("", rest), MAX_SUMMARY)


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
    cut_index, cut_text = _cut_off_entry(text, len(entries)) if bozo else (None, None)
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
    unsafe_guids = unreadable_dates = empty = truncated = 0
    for index, entry in enumerate(entries):
        guid, unsafe = clean_guid(entry.get("id"))
        unsafe_guids += unsafe
        title = clean_line(entry.get("title"), MAX_TITLE)
        summary, cut = _entry_body(entry)
        if index == cut_index:
            cut = True
            if cut_text and len(cut_text) > len(summary):
                summary = cut_text
        link = _entry_link(entry, base_url)
        if not (title or summary):
            empty += 1
            continue
        truncated += cut
        if not title:
            title = clean_line(summary, 120)
        published_value, had_date = _entry_date(entry)
        if published_value is None and had_date:
            unreadable_dates += 1
        published, source, flags = place_in_time(published_value, fetched_at, had_date)
        author = clean_line(entry.get("author"), MAX_AUTHOR) or None
        source_url, source_name = _entry_source(entry, base_url)
        items.append(Item(guid=guid, title=title, link=link, published=published,
                          published_source=source, date_flags=flags, summary=summary,
                          author=author, content_hash=content_hash(title, summary),
                          source_url=source_url, source_name=source_name, truncated=cut))

    deduped = dedupe(items)
    parsed.items = deduped.kept
    if deduped.dropped:
        notes.append(f"{deduped.dropped} duplicate item(s) dropped (same guid or link); "
                     "the first was kept")
    if deduped.rekeyed:
        notes.append(f"{deduped.rekeyed} item(s) reuse another story's guid; each is kept "
                     "under its own link")
    if truncated:
        notes.append(f"{truncated} item(s) give only the start of their text (a teaser or a "
                     "cut-off body); kept as given, flagged truncated")
    if unsafe_guids:
        notes.append(f"{unsafe_guids} guid(s) with a script or data URL discarded")
    if unreadable_dates:
        notes.append(f"{unreadable_dates} item date(s) unreadable or implausible; dated as "
                     "first seen")
    if empty:
        notes.append(f"{empty} entries without a title or summary skipped")
    return parsed
