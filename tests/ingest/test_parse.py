"""parse_feed(): what comes out of hostile, broken and mis-encoded feeds."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser.api
import pytest

from tests.support.feed_server import FeedServer
from tracker.ingest.identity import item_key
from tracker.ingest.parse import (
    MAX_SUMMARY,
    MAX_TITLE,
    FeedError,
    ParsedFeed,
    implausible_offset,
    is_cut_of,
    parse_feed,
)
from tracker.ingest.sanitise import MAX_LINK

FETCHED = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
BASE = "https://news.example/feed.xml"
RSS_HEADERS = {"Content-Type": "application/rss+xml"}

Read = Callable[[str], bytes]


def parse(body: bytes, headers: dict[str, str] | None = None,
          base_url: str = BASE) -> ParsedFeed:
    return parse_feed(body, RSS_HEADERS if headers is None else headers, fetched_at=FETCHED,
                      base_url=base_url)


def everything(feed: ParsedFeed) -> str:
    parts = [feed.title, *feed.warnings]
    for item in feed.items:
        parts += [item.title, item.summary, item.link or "", item.guid or "", item.author or ""]
    return "\n".join(parts)


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), [
    ("empty.xml", "empty body"),
    ("html_page.html", "HTML page, not a feed"),
    ("json_body.json", "JSON, not a feed"),
    ("not_a_feed.xml", "not a feed (no RSS or Atom document found)"),
    ("truncated.xml", "malformed feed with no items"),
])
def test_unusable_bodies_are_refused_with_one_line(fixture_bytes: Read, name: str,
                                                    message: str) -> None:
    with pytest.raises(FeedError) as err:
        parse(fixture_bytes(name))
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("body", [b"   \n\t  ", b"\xef\xbb\xbf  \n"])
def test_whitespace_only_is_empty(body: bytes) -> None:
    with pytest.raises(FeedError, match="empty body"):
        parse(body)


@pytest.mark.parametrize("name", ["billion_laughs.xml", "quadratic_blowup.xml"])
def test_entity_expansion_is_refused_before_parsing(fixture_bytes: Read, name: str) -> None:
    with pytest.raises(FeedError, match="declares DTD entities"):
        parse(fixture_bytes(name))


def test_external_entities_never_read_files_or_fetch(fixture_bytes: Read, loopback: FeedServer,
                                                      tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN-4242")
    loopback.routes["/x.dtd"] = lambda h: h.reply(200, b"<!ENTITY leaked 'LEAKED-OVER-HTTP'>")
    for name in ("xxe_local_file.xml", "xxe_parameter_entity.xml"):
        body = (fixture_bytes(name).replace(b"{SECRET_PATH}", str(secret).encode())
                .replace(b"{REMOTE_URL}", loopback.url("/x.dtd").encode()))
        with pytest.raises(FeedError) as err:
            parse(body)
        assert "TOP-SECRET" not in str(err.value)
    assert loopback.requests == []


def test_entity_refusal_is_case_and_encoding_blind() -> None:
    sneaky = [
        b'<?xml version="1.0"?><!DOCTYPE rss [<!entity a "b">]><rss version="2.0"/>',
        b'<?xml version="1.0"?><!DOCTYPE rss [<! ENTITY a "b">]><rss version="2.0"/>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "b">]>'
        '<rss version="2.0"><channel><title>&a;</title></channel></rss>'.encode("utf-16"),
        b'<?xml version="1.0"?>junk<!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"/>',
    ]
    for body in sneaky:
        with pytest.raises(FeedError, match="refused"):
            parse(body)


def test_external_dtd_without_entities_is_kept_but_never_fetched(fixture_bytes: Read,
                                                                  loopback: FeedServer) -> None:
    loopback.routes["/x.dtd"] = lambda h: h.reply(200, b"<!ENTITY x 'y'>")
    body = fixture_bytes("external_dtd.xml").replace(b"{REMOTE_URL}",
                                                     loopback.url("/x.dtd").encode())
    feed = parse(body)
    assert [i.title for i in feed.items] == ["Kept item"]
    assert feed.version == "rss091n"
    assert loopback.requests == []


def test_bodies_are_never_opened_as_paths_or_urls(loopback: FeedServer, tmp_path: Path) -> None:
    path = tmp_path / "local.xml"
    path.write_text('<rss version="2.0"><channel><title>FROM-DISK</title></channel></rss>')
    loopback.routes["/feed"] = lambda h: h.reply(200, b'<rss version="2.0"><channel>'
                                                      b"<title>FROM-NET</title></channel></rss>")
    for body in (str(path).encode(), path.as_uri().encode(), loopback.url("/feed").encode()):
        with pytest.raises(FeedError):
            parse(body)
    assert loopback.requests == []


@pytest.fixture
def booby_trapped_libxml2() -> Iterator[list[str]]:
    """A stand-in drv_libxml2 that records use: feedparser must never choose it."""
    used: list[str] = []
    module = types.ModuleType("drv_libxml2")

    def create_parser() -> None:
        used.append("drv_libxml2")
        raise AssertionError("libxml2 SAX driver must not be used")

    module.create_parser = create_parser  # type: ignore[attr-defined]
    sys.modules["drv_libxml2"] = module
    try:
        yield used
    finally:
        del sys.modules["drv_libxml2"]


def test_sax_parser_is_pinned_to_expat(fixture_bytes: Read,
                                       booby_trapped_libxml2: list[str]) -> None:
    feedparser.api.PREFERRED_XML_PARSERS = ["drv_libxml2"]
    feed = parse(fixture_bytes("duplicate_guids.xml"))
    assert feed.items
    assert booby_trapped_libxml2 == []
    assert feedparser.api.PREFERRED_XML_PARSERS == ["xml.sax.expatreader"]


# -- usable but broken ------------------------------------------------------------------------


def test_malformed_xml_keeps_items_with_a_warning(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("malformed.xml"))
    assert [i.title for i in feed.items] == ["Hong Kong & Zhejiang sign pact", "Second item"]
    assert feed.items[0].summary == "First bold"
    assert feed.title == "Broken & Co"
    assert any(w.startswith("malformed XML, kept what parsed (2 entries)")
               for w in feed.warnings)


def test_valid_feed_with_no_entries_is_fine(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("empty_channel.xml"))
    assert feed.items == [] and feed.warnings == []
    assert feed.title == "Quiet feed" and feed.version == "rss20"


def test_items_without_guid_or_link_get_distinct_hash_keys(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("no_guid_no_link.xml"))
    assert [i.title for i in feed.items][:2] == ["Only a title here", "Another bare item"]
    assert all(i.guid is None and i.link is None for i in feed.items)
    keys = [item_key(i) for i in feed.items]
    assert all(k.startswith("hash:") for k in keys) and len(set(keys)) == 3
    untitled = feed.items[2]
    assert untitled.title.startswith("Summary only, no title: Hong Kong and Zhejiang")
    assert len(untitled.title) <= 120
    assert "1 entries without a title or summary skipped" in feed.warnings


def test_duplicate_guids_keep_the_first(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("duplicate_guids.xml"))  # repeats keep the link or the title
    assert [(i.guid, i.title) for i in feed.items] == [("same-guid", "First copy"),
                                                       ("other-guid", "Unique")]
    assert any(w.startswith("2 duplicate item(s) dropped") for w in feed.warnings)


def test_a_guid_reused_for_other_stories_keeps_each_story(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("reused_guid.xml"))
    assert [i.title for i in feed.items] == ["Hong Kong and Zhejiang sign supply chain pact",
                                             "Ningbo port opens Hong Kong desk",
                                             "Typhoon signal 8 lowered"]
    keys = [item_key(i) for i in feed.items]
    assert keys[0] == "guid:daily-2025-04-29"  # the first keeps the guid's identity
    assert keys[1] == "link:https://news.example/a/2"
    assert keys[2].startswith("hash:")
    assert feed.items[0].summary == "The mechanism covers 40 firms."  # the first copy kept
    assert "1 duplicate item(s) dropped (same guid or link); the first was kept" \
        in feed.warnings
    assert "2 item(s) reuse another story's guid; each is kept under its own link" \
        in feed.warnings


def test_relative_guids_are_not_turned_into_urls(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("malformed.xml"), base_url="https://elsewhere.example/moved.xml")
    assert [i.guid for i in feed.items] == ["a", "b"]


def test_dates_missing_epoch_future_and_unreadable(fixture_bytes: Read) -> None:
    items = {i.guid: i for i in parse(fixture_bytes("dates.xml")).items}
    good = items["good"]
    assert good.published == datetime(2025, 4, 29, 2, 30, tzinfo=UTC)
    assert good.published_source == "feed" and good.date_flags == ()
    assert items["iso"].published == datetime(2025, 4, 30, 1, 0, tzinfo=UTC)
    assert good.published_date == good.published
    for guid, flag in (("none", "missing"), ("epoch", "epoch"), ("future", "future"),
                       ("nonsense", "unreadable")):
        item = items[guid]
        assert item.published_date is None, guid  # unknown, not the fetch time
        assert item.published == FETCHED  # placed when first seen, for ordering only
        assert item.published_source == "first_seen"
        assert item.date_flags == (flag,)
    assert all(i.published.tzinfo is UTC for i in items.values())


def test_impossible_offsets_leave_the_date_unknown(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("dates.xml"))
    items = {i.guid: i for i in feed.items}
    for guid in ("offset-rfc", "offset-iso", "offset-minutes"):  # +2500, +25:00, -0875
        item = items[guid]
        assert item.published_date is None, guid
        assert (item.published_source, item.date_flags) == ("first_seen", ("unreadable",))
    assert items["offset-max"].published_date == datetime(2025, 4, 28, 20, 30, tzinfo=UTC)
    # a broken pubDate does not hide a good date in another element
    assert items["second-date"].published_date == datetime(2025, 4, 29, 2, 30, tzinfo=UTC)
    assert "4 item date(s) unreadable or implausible; dated as first seen" in feed.warnings


@pytest.mark.parametrize("raw", ["Tue, 29 Apr 2025 10:30:00 +2500", "2025-04-29T10:30:00+25:00",
                                 "2025-04-29 10:30 -1500", "29 Apr 2025 10:30:00 GMT+1460"])
def test_implausible_offset(raw: str) -> None:
    assert implausible_offset(raw)


@pytest.mark.parametrize("raw", ["Tue, 29 Apr 2025 10:30:00 +1400", "2025-04-29T10:30:00-12:00",
                                 "2025-04-29", "Tue, 29 Apr 2025 10:30:00 GMT",
                                 "2025-04-29T10:30:00Z", "2025年4月29日"])
def test_plausible_or_no_offset(raw: str) -> None:
    assert not implausible_offset(raw)


def test_dates_within_two_days_ahead_are_trusted() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>Soon</title>'
            b"<pubDate>Sat, 03 May 2025 11:00:00 GMT</pubDate></item></channel></rss>")
    item = parse(body).items[0]
    assert item.published == datetime(2025, 5, 3, 11, 0, tzinfo=UTC)
    assert item.date_flags == ()


def test_naive_fetch_time_is_taken_as_utc() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>x</title></item>'
            b"</channel></rss>")
    feed = parse_feed(body, {}, fetched_at=datetime(2025, 5, 1, 12, 0), base_url=BASE)
    assert feed.items[0].published == FETCHED


def test_control_characters_are_removed(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("control_chars.xml"))
    item = feed.items[0]
    assert item.title == "Bell and escape[31m red[0m txt.exe"
    assert item.summary == "Line one\nLine two with spaces"
    assert item.link == "https://news.example/c1"
    text = everything(feed)
    for bad in ("\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\u200b", "\u202e", "\r"):
        assert bad not in text


def test_script_and_dangerous_urls_are_neutralised_in_rss(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("script_injection_rss.xml"))
    by_title = {i.title: i for i in feed.items}
    assert feed.title == "Feed"
    first = by_title["Tariff news"]
    assert first.link is None and first.guid is None
    assert first.summary == "Read more"
    for title in ("Tab trick", "Newline trick", "Data link", "VB trick"):
        assert by_title[title].link is None, title
    assert by_title["Data link"].guid is None
    ok = by_title["Double escaped"]
    assert ok.link == "https://news.example/ok"
    text = everything(feed).lower()
    for bad in ("<script", "script>", "javascript", "vbscript", "data:", "onerror", "onclick",
                "alert(", "<img", "<a ", "<p"):
        assert bad not in text, bad
    assert "2 guid(s) with a script or data URL discarded" in feed.warnings


def test_script_and_dangerous_urls_are_neutralised_in_atom(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("script_injection_atom.xml"))
    first, second = feed.items
    assert first.title == "Bold headline"
    assert first.link is None and first.guid is None
    assert first.summary == "Body link"
    assert second.link == "https://news.example/stories/relative"
    text = everything(feed).lower()
    for bad in ("<script", "javascript", "data:", "alert(", "<b>", "<div"):
        assert bad not in text, bad


def test_sizes_are_bounded() -> None:
    long_title = "Tariffs " * 200
    long_summary = "Hong Kong and Zhejiang. " * 400
    long_link = "https://news.example/" + "a" * 2500
    body = (f'<rss version="2.0"><channel><title>t</title><item><title>{long_title}</title>'
            f"<link>{long_link}</link><description>{long_summary}</description></item>"
            "</channel></rss>").encode()
    item = parse(body).items[0]
    assert len(item.title) <= MAX_TITLE and item.title.endswith("…")
    assert len(item.summary) <= MAX_SUMMARY and item.summary.endswith("…")
    assert item.link is None
    short = f'<rss version="2.0"><channel><item><title>x</title><link>{long_link[:MAX_LINK - 10]}' \
            "</link></item></channel></rss>"
    assert parse(short.encode()).items[0].link == long_link[:MAX_LINK - 10]


def test_summary_falls_back_to_content_and_keeps_paragraphs() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
    <updated>2025-04-29T00:00:00Z</updated><entry><title>e</title><id>e1</id>
    <updated>2025-04-29T00:00:00Z</updated>
    <content type="html">&lt;p&gt;First  para&lt;/p&gt;
    &lt;p&gt;Second&lt;br&gt;line&lt;/p&gt;</content>
    </entry></feed>"""
    assert parse(body).items[0].summary == "First para\n\nSecond\nline"


def test_ttl_and_tracking_params_in_links() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><ttl>45</ttl><item><title>x</title>'
            b"<link>/news/1?utm_source=rss&amp;id=7#frag</link></item></channel></rss>")
    feed = parse(body)
    assert feed.ttl_minutes == 45
    assert feed.items[0].link == "https://news.example/news/1?id=7"
    bad_ttl = body.replace(b"<ttl>45</ttl>", b"<ttl>soon</ttl>")
    feed = parse(bad_ttl)
    assert feed.ttl_minutes is None
    assert any("unreadable <ttl>" in w for w in feed.warnings)


# -- encodings --------------------------------------------------------------------------------

CHINESE_TITLE = "港浙簽署供應鏈服務機制合作協議"


def test_utf8_chinese_without_declaration(fixture_bytes: Read) -> None:
    for headers in ({}, {"Content-Type": "text/xml"}, {"Content-Type": "application/rss+xml"}):
        feed = parse(fixture_bytes("utf8_chinese_no_declaration.xml"), headers)
        assert feed.items[0].title == CHINESE_TITLE
        assert feed.title == "港浙新聞"
        assert feed.encoding == "utf-8"


def test_utf8_declared_as_latin1_is_read_as_utf8(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("utf8_declared_latin1.xml"))
    assert feed.items[0].title == CHINESE_TITLE
    assert "declared ISO-8859-1 but the body is UTF-8; read as UTF-8" in feed.warnings


def test_header_charset_disagreeing_with_declaration(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("utf8_chinese_no_declaration.xml"),
                 {"Content-Type": "text/xml; charset=ISO-8859-1"})
    assert feed.items[0].title == CHINESE_TITLE
    big5 = parse(fixture_bytes("big5.xml"), {"Content-Type": "application/xml; charset=utf-8"})
    assert big5.items[0].title == CHINESE_TITLE
    assert big5.items[0].summary == "香港與浙江同意建立供應鏈服務機制。"
    assert big5.encoding == "big5hkscs"
    assert "declared utf-8 but read as big5hkscs" in big5.warnings


def test_gb2312_and_big5_bodies(fixture_bytes: Read) -> None:
    gb = parse(fixture_bytes("gb2312.xml"))
    assert gb.items[0].title == "港浙签署供应链服务机制合作协议"
    assert gb.encoding == "gb18030"
    big5 = parse(fixture_bytes("big5.xml"), {})
    assert big5.items[0].title == CHINESE_TITLE


def test_utf16_with_bom(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("utf16_bom.xml"), {})
    assert feed.items[0].title == CHINESE_TITLE


def test_latin1_body_declared_latin1() -> None:
    body = ('<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
            "<title>Caf\u00e9 news</title><item><title>Na\u00efve caf\u00e9</title></item>"
            "</channel></rss>").encode("latin-1")
    feed = parse(body)
    assert feed.items[0].title == "Na\u00efve caf\u00e9"
    assert feed.warnings == []


def test_aggregator_source_is_kept_beside_the_redirect_link() -> None:
    from tracker.ingest.parse import parse_feed as parse
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><item>'
            b'<title>Lingxi Robotics jumps 40% on Hong Kong debut - Harbour Post</title>'
            b'<link>https://news.google.com/rss/articles/CBMiAbc?oc=5</link>'
            b'<guid isPermaLink="false">CBMiAbc</guid>'
            b'<source url="https://www.harbourpost.example">Harbour Post</source>'
            b'</item><item><title>Plain item</title><link>https://a.example/1</link></item>'
            b'</channel></rss>')
    items = parse(body, {}, fetched_at=datetime(2025, 9, 25, tzinfo=UTC),
                  base_url="https://news.google.com/rss").items
    assert items[0].source_url == "https://www.harbourpost.example/"
    assert items[0].source_name == "Harbour Post"
    assert items[0].link is not None and "news.google.com" in items[0].link
    assert items[1].source_url is None and items[1].source_name is None


# -- truncated bodies -------------------------------------------------------------------------


def _one_item(inner: str) -> bytes:
    return ('<?xml version="1.0"?><rss version="2.0" xmlns:content='
            '"http://purl.org/rss/1.0/modules/content/"><channel><title>t</title><item>'
            f'<title>Pact signed</title><guid>g</guid>{inner}</item></channel></rss>').encode()


@pytest.mark.parametrize("description", [
    "Officials said the mechanism will cover …", "Officials said the mechanism will [&#8230;]",
    "Officials said the mechanism will [...]",
    '&lt;p&gt;Officials said the mechanism&lt;/p&gt;&lt;a href="https://x.example"&gt;Read '
    "more&lt;/a&gt;", "Officials said the mechanism. Continue reading »",
    "Officials said the mechanism (more)", "港浙簽署合作協議…… 閱讀全文",
])
def test_teasers_are_kept_and_flagged_truncated(description: str) -> None:
    feed = parse(_one_item(f"<description>{description}</description>"))
    [item] = feed.items
    assert item.truncated and item.summary.startswith(("Officials said", "港浙"))
    assert any("flagged truncated" in w for w in feed.warnings)


@pytest.mark.parametrize("description", [
    "Officials said the mechanism will cover 40 firms.", "Readers want more",
    "A 3.5% rise, up from 2.1%.",
])
def test_whole_bodies_are_not_flagged(description: str) -> None:
    [item] = parse(_one_item(f"<description>{description}</description>")).items
    assert not item.truncated and item.summary == description


def test_full_content_is_preferred_to_a_teaser_summary() -> None:
    body = _one_item("<description>Officials said the mechanism …</description>"
                     "<content:encoded><![CDATA[<p>Officials said the mechanism will cover 40 "
                     "firms.</p><p>More than 50 projects were signed.</p>]]></content:encoded>")
    [item] = parse(body).items
    assert item.summary == ("Officials said the mechanism will cover 40 firms.\n"
                            "More than 50 projects were signed.")
    assert not item.truncated


def test_a_summary_that_is_whole_is_kept_over_content() -> None:
    body = _one_item("<description>Short and whole.</description>"
                     "<content:encoded>Short and whole, with a longer body.</content:encoded>")
    [item] = parse(body).items
    assert item.summary == "Short and whole." and not item.truncated


def test_a_body_cut_off_mid_item_keeps_the_text_it_gave(fixture_bytes: Read) -> None:
    feed = parse(fixture_bytes("cut_off_item.xml"))
    complete, cut = feed.items
    assert (complete.summary, complete.truncated) == ("Whole and closed.", False)
    assert cut.truncated
    assert cut.summary.startswith("Hong Kong and Zhejiang agreed a supply chain services "
                                  "mechanism covering 40 firms, with more than 50 projects")
    assert "<" not in cut.summary and "CDATA" not in cut.summary
    assert cut.summary.endswith("Officials said the")


def test_a_document_cut_after_the_last_body_flags_nothing() -> None:
    body = (b'<rss version="2.0"><channel><title>t</title><item><title>A</title><guid>a</guid>'
            b"<description>Whole.</description><pubDa")
    [item] = parse(body).items
    assert (item.summary, item.truncated) == ("Whole.", False)


def test_is_cut_of() -> None:
    full = "Officials said the mechanism will cover 40 firms."
    assert is_cut_of("Officials said the mechanism …", full)
    assert is_cut_of("officials  said the [...]", full)
    assert is_cut_of("", full)
    assert not is_cut_of(full, full)
    assert not is_cut_of("Officials denied the mechanism …", full)
