"""Text and links in Markdown that Markdown cannot act on.

Every string a Markdown report takes from the log (feed titles and summaries, publisher names,
analysts' notes) goes through :func:`text`; every link it emits goes through :func:`link` or
:func:`autolink`. A feed title can otherwise turn a briefing into someone else's page: ``![x](
https://tracker.example/pixel)`` loads an image when the briefing is opened, ``[Official
notice](https://phish.example)`` hides where a link goes, ``<img src=...>`` is raw HTML that
many renderers pass through, and a bare ``https://...`` or ``www.`` becomes a link on GitHub.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

#: Escaped wherever they appear: CommonMark lets any ASCII punctuation be backslash-escaped,
#: and each of these can start inline or block syntax (emphasis, code, links and images, raw
#: HTML and autolinks, entities, headings, lists, block quotes, tables, strikethrough) or
#: complete a GFM autolink (the ``:`` of ``https://``, the ``.`` of ``www.``, an ``@``).
METACHARACTERS = frozenset("\\`*_{}[]()#+-.!|<>~:@&")
#: Characters left as they are in a link destination; everything else is percent-encoded.
_URL_SAFE = "/:?&=#%;,@+$!*'~-._[]"


def text(value: Any) -> str:
    """``value`` as one line of literal Markdown text: whitespace (line breaks included, so no
    feed text starts a block) folded to single spaces, every metacharacter escaped."""
    line = " ".join(str(value).split())
    return "".join("\\" + ch if ch in METACHARACTERS else ch for ch in line)


def code(value: Any) -> str:
    """``value`` as a code span, or as escaped text when it holds a backtick (which could
    close the span early)."""
    line = " ".join(str(value).split())
    return f"`{line}`" if line and "`" not in line else text(line)


def safe_url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, percent-encoded so that it can stand inside
    ``<...>`` (no spaces, angle brackets, parentheses, quotes or backslashes); None for any
    other scheme (``javascript:``, ``data:``, ``file:``) or anything unparseable."""
    raw = str(value or "").strip()
    if not raw or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return None
    try:
        parts = urlsplit(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(raw, safe=_URL_SAFE)


def autolink(value: Any) -> str:
    """``<url>`` for a safe URL, else the value as escaped text (never a link)."""
    url = safe_url(value)
    return f"<{url}>" if url else text(value)


def link(label: Any, value: Any) -> str:
    """``[label](<url>)`` with the label escaped, or only the escaped label when the URL is
    not a safe http(s) URL."""
    url = safe_url(value)
    return f"[{text(label)}](<{url}>)" if url else text(label)
