"""Reading Markdown output as a reader sees it, and as a Markdown renderer parses it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_read(markdown: str) -> str:
    """``markdown`` with its backslash escapes taken out: the characters a reader sees."""
    return _ESCAPE.sub(r"\1", markdown)


def parse(markdown: str) -> list[Token]:
    """The tokens of ``markdown`` under GitHub-like rules: tables, strikethrough, raw HTML,
    and bare URLs and e-mail addresses turned into links (linkify). Every link is kept,
    ``javascript:`` ones too (markdown-it drops those; a laxer renderer might not)."""
    md = MarkdownIt("gfm-like", {"linkify": True, "html": True})
    md.validateLink = lambda _url: True
    return md.parse(markdown)


def inline_tokens(markdown: str) -> Iterator[Token]:
    for token in parse(markdown):
        yield token
        yield from token.children or ()


def links(markdown: str) -> list[str]:
    """Every link and image target in ``markdown``, as a renderer would follow it."""
    return [str(t.attrGet("href") or t.attrGet("src"))
            for t in inline_tokens(markdown) if t.type in ("link_open", "image")]


def images(markdown: str) -> list[Token]:
    return [t for t in inline_tokens(markdown) if t.type == "image"]


def raw_html(markdown: str) -> list[str]:
    """Raw HTML a renderer would pass through (blocks and inline)."""
    return [t.content for t in inline_tokens(markdown)
            if t.type in ("html_block", "html_inline")]
