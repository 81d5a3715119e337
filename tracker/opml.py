"""Subscriptions as OPML, the list feed readers import and export (OPML 2.0).

Each feed is an ``<outline type="rss">`` with ``text`` and ``title`` (its name), ``xmlUrl``
and ``category`` (its tags, comma-separated); what only tracker knows rides in attributes of
its own namespace (``tracker:every``, ``tracker:publisher``, ``tracker:tier``,
``tracker:allowLocal``, ``tracker:allowPrivate``), which other readers ignore. An export
imported again gives the same subscriptions.

Reading is pure: :func:`parse` returns the feeds an OPML document lists (nested folders
included: a folder's title becomes a tag), parsed with defusedxml (no DTDs, no entities) and
bounded in size. Names from other readers ("South China Morning Post") become feed names
("south-china-morning-post").
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from tracker.errors import UsageError

NS: Final = "https://github.com/tracker/opml"
_T = f"{{{NS}}}"
#: Larger OPML files are refused unread.
MAX_BYTES: Final = 5 * 1024 * 1024
MAX_FEEDS: Final = 5000
_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    name: str
    url: str
    tags: tuple[str, ...] = ()
    every_seconds: int | None = None
    publisher: str | None = None
    tier: str | None = None
    allow_local: bool = False
    allow_private: bool = False


class OpmlError(UsageError):
    """Not an OPML document tracker can read; the message says where."""


def export(feeds: Iterable[OpmlFeed], title: str = "tracker subscriptions") -> str:
    """An OPML 2.0 document listing ``feeds`` in the order given."""
    ET.register_namespace("tracker", NS)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.tags:
            attrs["category"] = ",".join(feed.tags)
        if feed.every_seconds is not None:
            attrs[f"{_T}every"] = str(feed.every_seconds)
        if feed.publisher:
            attrs[f"{_T}publisher"] = feed.publisher
        if feed.tier:
            attrs[f"{_T}tier"] = feed.tier
        if feed.allow_local:
            attrs[f"{_T}allowLocal"] = "true"
        if feed.allow_private:
            attrs[f"{_T}allowPrivate"] = "true"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def parse(data: bytes, source: str = "OPML") -> list[OpmlFeed]:
    """The feeds an OPML document lists, in document order; a bad document is an
    :class:`OpmlError` naming ``source``."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    if len(data) > MAX_BYTES:
        raise OpmlError(f"{source}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException:
        raise OpmlError(f"{source}: DTDs and entities are refused") from None
    except ET.ParseError as exc:
        raise OpmlError(f"{source}: not XML ({exc})") from None
    if root.tag != "opml":
        raise OpmlError(f"{source}: not OPML (the root element is <{_local(root.tag)}>)")
    body = root.find("body")
    if body is None:
        raise OpmlError(f"{source}: not OPML (no <body>)")
    feeds = list(_outlines(body, (), source))
    if len(feeds) > MAX_FEEDS:
        raise OpmlError(f"{source}: more than {MAX_FEEDS} feeds")
    return _unique_names(feeds)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1][:40]


def _outlines(parent: ET.Element, folders: tuple[str, ...], source: str) -> Iterator[OpmlFeed]:
    for outline in parent.findall("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip()
        if not url:  # a folder: its feeds carry its title as a tag
            folder = slug(title).lower() if title else ""
            yield from _outlines(outline, (*folders, folder) if folder else folders, source)
            continue
        tags = [t.strip() for t in (outline.get("category") or "").replace("/", ",").split(",")]
        every = outline.get(f"{_T}every") or ""
        try:
            every_seconds = int(every) if every else None
        except ValueError:
            raise OpmlError(f"{source}: feed {title or url!r}: tracker:every {every[:20]!r} "
                            "is not a number of seconds") from None
        yield OpmlFeed(
            name=slug(title) or slug(url) or "feed", url=url,
            tags=tuple(dict.fromkeys(t for t in (*folders, *tags) if t)),
            every_seconds=every_seconds,
            publisher=(outline.get(f"{_T}publisher") or "").strip() or None,
            tier=(outline.get(f"{_T}tier") or "").strip() or None,
            allow_local=outline.get(f"{_T}allowLocal") == "true",
            allow_private=outline.get(f"{_T}allowPrivate") == "true")


def slug(text: str) -> str:
    """A feed name from a title: kept when it is one already ("scmp-china"), else folded to
    lower-case ASCII letters, digits, '.', '_' and '-' ("South China Morning Post" is
    "south-china-morning-post")."""
    text = text.strip()
    if _NAME.fullmatch(text):
        return text
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    if "://" in folded:
        folded = folded.split("://", 1)[1]
    return _NAME_OK.sub("-", folded).strip("-._").lower()[:100]


def _unique_names(feeds: list[OpmlFeed]) -> list[OpmlFeed]:
    """Two outlines with one title become NAME and NAME-2 (the same URL twice stays once)."""
    seen_urls: set[str] = set()
    used: set[str] = set()
    out = []
    for feed in feeds:
        if feed.url in seen_urls:
            continue
        seen_urls.add(feed.url)
        name, n = feed.name, 1
        while name in used:
            n += 1
            name = f"{feed.name}-{n}"
        used.add(name)
        out.append(feed if name == feed.name else _renamed(feed, name))
    return out


def _renamed(feed: OpmlFeed, name: str) -> OpmlFeed:
    return OpmlFeed(name, feed.url, feed.tags, feed.every_seconds, feed.publisher, feed.tier,
                    feed.allow_local, feed.allow_private)
