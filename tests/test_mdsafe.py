"""Markdown output's one escape function and its links, checked with a real Markdown parser
(GitHub-like: raw HTML, bare-URL and e-mail autolinks, tables, strikethrough)."""

from __future__ import annotations

import pytest

from tests.support.markdown import as_read, images, links, parse, raw_html
from tracker.render import mdsafe

HOSTILE = [
    "![pixel](https://track.example/p.png)",
    "[Official notice](https://phish.example/login)",
    "[ref][1]\n\n[1]: https://phish.example/ref",
    "<img src=https://track.example/p.gif>",
    "<script>alert(1)</script>",
    "<https://auto.example/x>",
    "https://bare.example.com/t and www.evil.com and mail a@evil.com",
    "&lt;img src=x&gt; &#91;x&#93;(https://e.example)",
    "[x](javascript:alert(1)) [y](data:text/html,hi)",
    "**bold** _em_ ~~gone~~ `code` | a | b |",
    "# heading\n> quote\n- item\n1. first\n---\n===",
    "title\n\n    indented code\n\n<div>block</div>",
    "trailing backslash \\",
    "\\[escaped\\](https://pre-escaped.example)",
    "line\u2028separator and\u0085next line",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_text_is_literal_for_a_markdown_parser(raw: str) -> None:
    escaped = mdsafe.text(raw)
    assert "\n" not in escaped
    markdown = f"- {escaped}\n\n## {escaped}\n\n_{escaped}_\n"
    assert links(markdown) == [] and images(markdown) == [] and raw_html(markdown) == []
    blocks = [t.type for t in parse(markdown) if t.nesting == 1]
    assert blocks == ["bullet_list_open", "list_item_open", "paragraph_open",
                      "heading_open", "paragraph_open"]
    assert as_read(escaped) == " ".join(raw.split())  # every character is still there


def test_text_escapes_the_metacharacters_and_leaves_words_alone() -> None:
    assert mdsafe.text("a*b_c[d](e)!f#g+h-i.j|k<l>m`n{o}p\\q~r:s@t&u") == \
        "a\\*b\\_c\\[d\\]\\(e\\)\\!f\\#g\\+h\\-i\\.j\\|k\\<l\\>m\\`n\\{o\\}p\\\\q\\~r\\:s\\@t\\&u"
    assert mdsafe.text("港浙 supply chain, 40 firms") == "港浙 supply chain, 40 firms"
    assert mdsafe.text(None) == "None" and mdsafe.text(12) == "12"


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://news.example/a/(1)", "https://news.example/a/%281%29"),
    ("https://news.example/a?q=<b>&x=\"y\"", "https://news.example/a?q=%3Cb%3E&x=%22y%22"),
    ("HTTP://News.example/港浙", "HTTP://News.example/%E6%B8%AF%E6%B5%99"),
    ("https://news.example/a%20b#frag", "https://news.example/a%20b#frag"),
    ("https://[::1]:8080/x", "https://[::1]:8080/x"),
])
def test_safe_url_encodes_what_could_end_a_link(raw: str, expected: str) -> None:
    assert mdsafe.safe_url(raw) == expected


@pytest.mark.parametrize("raw", [
    None, "", "javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)",
    "data:image/png;base64,AAAA", "file:///etc/passwd", "vbscript:x", "/relative",
    "//news.example/x", "https://news.example/a b", "https://news.example/a\nb", "https://",
    "mailto:a@b.example", "http://[bad",
])
def test_safe_url_refuses_everything_but_http(raw: str | None) -> None:
    assert mdsafe.safe_url(raw) is None
    assert links(mdsafe.autolink(raw or "x")) == []


def test_links_are_ours_alone() -> None:
    title = "![x](https://t.example/p.png) [a](https://phish.example)"
    written = mdsafe.link(title, "https://news.example/a/(1)")
    assert links(written) == ["https://news.example/a/%281%29"]
    assert images(written) == [] and as_read(written).startswith(f"[{title}]")
    assert mdsafe.link(title, "javascript:alert(1)") == mdsafe.text(title)
    assert links(mdsafe.autolink("https://news.example/(x)")) == ["https://news.example/%28x%29"]


def test_code_spans_cannot_be_closed_early() -> None:
    assert mdsafe.code("st-3f2a9c") == "`st-3f2a9c`"
    assert links(mdsafe.code("`[x](https://phish.example)`")) == []
