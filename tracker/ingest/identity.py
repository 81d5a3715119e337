"""Stable identities for feed items, so re-fetches and syndicated copies are recognised.

An item's key never depends on fetch time or feed order: the same item gives the same key on
every fetch, which lets the store dedupe with a unique constraint instead of a cache.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that only track the reader; dropping them lets two copies of one link match.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid", "twclid", "li_fat_id",
    "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp", "ocid", "spm",
    "scm", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "sr_share", "at_medium", "at_campaign",
    "at_custom1", "at_custom2", "at_custom3", "at_custom4", "pgtype", "smid", "s_cid", "ito",
    "ns_mchannel", "ns_source", "ns_campaign",
    "ns_linkname", "ns_fee", "wt.mc_id", "wt_mc_id", "xtor", "icid", "ncid", "guccounter",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmsr", "hmpl")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_JUNK = re.compile(
    r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]")
_WS = re.compile(r"\s+")


class Identifiable(Protocol):
    """What :func:`item_key` needs from an item (parse.Item satisfies it); a dataclass, so
    that :func:`dedupe` can take the guid off an item that reuses another story's."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def guid(self) -> str | None: ...
    @property
    def link(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...


T = TypeVar("T", bound=Identifiable)


def strip_url_junk(url: str) -> str:
    """Remove whitespace and control characters anywhere in a URL, as browsers do.

    Browsers drop tabs and newlines inside URLs, which is how ``java\\tscript:`` runs script; the
    scheme must be checked on what a browser would see.
    """
    return _URL_JUNK.sub("", url)


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host, judged after junk removal."""
    try:
        parts = urlsplit(strip_url_junk(url))
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def canonical_link(url: str | None) -> str | None:
    """One spelling per resource: http(s) only, lowercased scheme and host, no default port,
    no fragment, no credentials, no tracking parameters, remaining parameters sorted.

    Returns None for anything that is not an absolute http(s) URL.
    """
    if not url:
        return None
    cleaned = strip_url_junk(url)
    try:
        parts = urlsplit(cleaned)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    query = urlencode(sorted(pairs))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def _normalise_text(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def content_hash(title: str, summary: str) -> str:
    """sha256 over normalised title and summary: changes only when the words change."""
    payload = _normalise_text(title) + "\x1f" + _normalise_text(summary)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def guid_key(guid: str) -> str:
    """``guid:…`` for a guid; one that is an http(s) permalink is canonicalised like a link."""
    guid = guid.strip()
    if is_http_url(guid):
        guid = canonical_link(guid) or guid
    return f"guid:{guid}"


def item_key(item: Identifiable) -> str:
    """``guid:…``, else ``link:…``, else ``hash:…`` — the item's identity across fetches.

    A guid that is itself an http(s) permalink is canonicalised like a link, so
    ``?utm_source=rss`` variants of one guid do not count as new items.
    """
    if item.guid:
        return guid_key(item.guid)
    link = canonical_link(item.link)
    if link:
        return f"link:{link}"
    return f"hash:{content_hash(item.title, item.summary)}"


@dataclass(frozen=True, slots=True)
class Deduped(Generic[T]):
    """A fetch's items once each: ``dropped`` repeats, ``rekeyed`` other stories that reused
    a guid (kept without it, so they are keyed by their link)."""

    kept: list[T]
    dropped: int
    rekeyed: int


def _same_story(a: Identifiable, b: Identifiable) -> bool:
    """Two items under one guid are one story unless both the link and the title differ."""
    return canonical_link(a.link) == canonical_link(b.link) \
        or _normalise_text(a.title) == _normalise_text(b.title)


def dedupe(items: Iterable[T]) -> Deduped[T]:
    """Keep the first item per key, and every other story that reuses a guid.

    Feeds that repeat a guid for one item (a CMS bug, or an edited item left in twice) would
    otherwise record it twice with different content; feeds that give one guid to several
    stories (a template bug) would otherwise hide all but the first. An item is another story
    when its link and its title both differ from the first's: it loses the guid and is keyed
    by its link (or its content), the first keeps the guid's key.
    """
    first: dict[str, T] = {}
    kept: list[T] = []
    dropped = rekeyed = 0
    for item in items:
        key = item_key(item)
        holder = first.get(key)
        if holder is not None and item.guid and not _same_story(holder, item):
            item = replace(item, guid=None)
            key = item_key(item)
            rekeyed += 1
            holder = first.get(key)
        if holder is not None:
            dropped += 1
            continue
        first[key] = item
        kept.append(item)
    return Deduped(kept, dropped, rekeyed)


def dedupe_items(items: Iterable[T]) -> tuple[list[T], int]:
    """:func:`dedupe` as (kept items, how many were dropped)."""
    deduped = dedupe(items)
    return deduped.kept, deduped.dropped

