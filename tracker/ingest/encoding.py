"""Feed bytes to text: which encoding a body is really in, whatever it claims.

Servers and feeds mislabel encodings often (a site-wide "ISO-8859-1" header on UTF-8 bytes, GB2312
labels on GBK text), so the bytes themselves are trusted first and the labels last; see
:func:`decode_body`. feedparser is then handed the text as UTF-8, declared as such.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
#: Supersets that decode what servers mislabel: GB2312 text often uses GBK characters, Hong Kong
#: Big5 uses HKSCS, and "ISO-8859-1" on the web means windows-1252.
_WIDER_CODEC = {
    "gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
    "big5": "big5hkscs", "cp950": "big5hkscs",
    "latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252",
}


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    return _WIDER_CODEC.get(canonical, canonical)


def decode_body(body: bytes, headers: Mapping[str, str]) -> tuple[str, str, list[str]]:
    """Decide the body's encoding and decode it: (text, codec name, warnings).

    Order: a BOM; then strict UTF-8 whenever it decodes (a body that is valid UTF-8 with
    non-ASCII bytes is practically never Latin-1 or GBK, whatever it is labelled); then the
    XML declaration (written by the program that wrote the bytes); then the HTTP charset
    (often a site-wide default); then windows-1252 with replacement.
    """
    notes: list[str] = []
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, "replace"), name, notes
    if body.startswith(b"<\x00?\x00") or body.startswith(b"<\x00\x00\x00"):
        name = "utf-32-le" if body.startswith(b"<\x00\x00\x00") else "utf-16-le"
        return body.decode(name, "replace"), name, notes
    if body.startswith(b"\x00<\x00?") or body.startswith(b"\x00\x00\x00<"):
        name = "utf-32-be" if body.startswith(b"\x00\x00\x00<") else "utf-16-be"
        return body.decode(name, "replace"), name, notes

    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    charset = _CHARSET.search(content_type)
    header_label = charset.group(1) if charset else None
    declared = _XML_DECL_ENCODING.match(body[:1024])
    decl_label = declared.group(1).decode("ascii") if declared else None
    header_codec, decl_codec = _codec(header_label), _codec(decl_label)
    labels = {header_codec: header_label, decl_codec: decl_label}

    if body.isascii():
        return body.decode("ascii"), "utf-8", notes
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        wrong = {labels[c] for c in (header_codec, decl_codec) if c and c != "utf-8"}
        if wrong:
            notes.append(f"declared {', '.join(sorted(str(w) for w in wrong))} but the body is "
                         "UTF-8; read as UTF-8")
        return text, "utf-8", notes

    for name in (c for c in (decl_codec, header_codec) if c and c != "utf-8"):
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        others = {labels[c] for c in (header_codec, decl_codec) if c and c != name}
        if others:
            notes.append(f"declared {', '.join(sorted(str(o) for o in others))} but read as "
                         f"{name}")
        return text, name, notes
    notes.append("encoding unknown or wrong; read as cp1252 with replacement characters")
    return body.decode("cp1252", "replace"), "cp1252", notes


def as_utf8_xml(text: str) -> bytes:
    """``text`` as UTF-8 bytes under an XML declaration that says so (its own one dropped)."""
    text = _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8", "replace")
