"""Plain, bounded, harmless text out of hostile feed markup: titles, summaries, links, guids.

What a feed says is stored as plain text: tags are stripped, entities unescaped, control and
direction-override characters removed, whitespace normalised and sizes bounded. Links are
absolute, canonical http(s) or None; a guid is kept opaque, but never as a script or data URL.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from typing import Any
from urllib.parse import urljoin

import nh3

from tracker.ingest.identity import canonical_link, is_http_url

MAX_LINK = 2000
MAX_GUID = 1000
#: Raw HTML is cut to this many characters before sanitising, to bound the work per item.
MAX_RAW_CHARS = 200_000

_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]")
_BLOCK_END = re.compile(
    r"(?i)<\s*(?:br|hr)\b[^>]*>|<\s*/\s*(?:p|div|li|h[1-6]|tr|blockquote|pre|section|"
    r"article|ul|ol|table)\s*>")
_TAG_LIKE = re.compile(r"<\s*[A-Za-z/!?]")
_HSPACE = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _strip_markup(text: str) -> str:
    """HTML to plain text: tags (and script/style contents) dropped, entities unescaped.

    Repeated while the result still looks like markup, so double-escaped
    ``&amp;lt;script&amp;gt;`` cannot come out as a live ``<script>``.
    """
    text = _BLOCK_END.sub("\n", text[:MAX_RAW_CHARS])
    for _ in range(3):
        text = html.unescape(nh3.clean(text, tags=set()))
        if not _TAG_LIKE.search(text):
            return text
    return _TAG_LIKE.sub(lambda m: m.group(0)[1:], text)


def _remove_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


def _bound(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit - 60)
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…"


def clean_line(raw: str | None, limit: int) -> str:
    """Markup-free, single-line, bounded text (titles, authors)."""
    if not raw:
        return ""
    text = _remove_controls(_strip_markup(raw))
    return _bound(_ANY_SPACE.sub(" ", text).strip(), limit)


def clean_block(raw: str | None, limit: int) -> str:
    """Markup-free text that keeps paragraph breaks (summaries)."""
    if not raw:
        return ""
    text = _remove_controls(_strip_markup(raw))
    lines = [_HSPACE.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return _bound(text, limit)


def safe_link(raw: str | None, base_url: str = "") -> str | None:
    """An absolute, canonical http(s) link, or None for anything else (javascript:, data:…).

    Whitespace and control characters are removed first, as a browser would, so
    ``java\\tscript:`` is judged as ``javascript:``.
    """
    if not raw:
        return None
    candidate = raw.strip()
    if base_url and is_http_url(base_url):
        try:
            candidate = urljoin(base_url, candidate)
        except ValueError:
            return None
    link = canonical_link(candidate)
    if link is None or len(link) > MAX_LINK:
        return None
    return link


_UNSAFE_GUID_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")


def clean_guid(raw: Any) -> tuple[str | None, bool]:
    """The guid as an opaque identity; (None, True) when it carries a script/data URL."""
    if not isinstance(raw, str):
        return None, False
    guid = _ANY_SPACE.sub(" ", _remove_controls(raw)).strip()
    if not guid:
        return None, False
    squeezed = re.sub(r"[\s\x00-\x1f]", "", raw).lower()
    if squeezed.startswith(_UNSAFE_GUID_SCHEMES):
        return None, True
    if len(guid) > MAX_GUID:
        guid = "sha256:" + hashlib.sha256(guid.encode("utf-8")).hexdigest()
    return guid, False


def one_line(exc: object) -> str:
    """An error's message on one short line, for a warning or a refusal."""
    return _ANY_SPACE.sub(" ", str(exc)).strip()[:200] or type(exc).__name__
