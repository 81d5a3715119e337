"""Every command that prints a report or a list, in every format it offers, on the sample data:
the JSON and JSON lines parse, the CSV is one flat table, and each key docs/json.md documents
is in the command's JSON. CSV cells from feed text never start a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest

from tests.support.paths import ROOT
from tests.support.sample import COMMANDS, args, build, news_json, ok, run
from tracker.cli import main
from tracker.render import REPORT_FORMATS, STREAM_FORMATS
from tracker.render.csv_format import cell, guarded


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build(tmp_path_factory.mktemp("sample"))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        if not isinstance(command, click.Group) or name not in command.commands:
            break
        command = command.commands[name]
    return command


def _formats(name: str) -> tuple[str, ...]:
    words = tuple(w for w in COMMANDS[name] if not w.startswith("-"))
    [option] = [p for p in _command(words).params if p.name == "fmt"]
    assert isinstance(option.type, click.Choice)
    return tuple(str(c) for c in option.type.choices)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_offers_every_format(name: str) -> None:
    offered = _formats(name)
    assert set(REPORT_FORMATS) <= set(offered), (name, offered)
    if name == "log":
        assert set(STREAM_FORMATS) == set(offered)


def _parsed(fmt: str, text: str) -> Any:
    if fmt == "json":
        return json.loads(text)
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows and rows[0], "no header row"
        assert all(len(row) == len(rows[0]) for row in rows), "rows of other widths"
        assert len(set(rows[0])) == len(rows[0]), "a column named twice"
        return rows
    assert text.strip(), "nothing printed"
    if fmt == "markdown":
        assert text.lstrip().startswith("#"), text[:80]
    return text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_format_of_every_command_parses(sample_url: str, name: str) -> None:
    for fmt in _formats(name):
        result = ok(sample_url, *args(sample_url, name), "--format", fmt)
        _parsed(fmt, result.stdout)


def test_csv_is_a_row_per_record(sample_url: str) -> None:
    news = news_json(sample_url, "--limit", "0")
    rows = _parsed("csv", ok(sample_url, "news", "--limit", "0", "--format", "csv").stdout)
    assert rows[0][:3] == ["id", "short_id", "published"]
    assert [r[0] for r in rows[1:]] == [s["id"] for s in news["stories"]]
    log = _parsed("csv", ok(sample_url, "log", "--format", "csv").stdout)
    events = ok(sample_url, "log", "--format", "jsonl").stdout.splitlines()
    assert len(log) - 1 == len(events)
    assert json.loads(log[1][log[0].index("data")]) == json.loads(events[0])["data"]
    status = _parsed("csv", ok(sample_url, "status", "--format", "csv").stdout)
    sections = {r[1] for r in status[1:]}
    assert {"status", "fact", "party", "milestone", "follow_up"} <= sections
    claims = _parsed("csv", ok(sample_url, "claims", "--state", "all", "--format", "csv").stdout)
    as_json = json.loads(ok(sample_url, "claims", "--state", "all", "--format", "json").stdout)
    assert len(claims) - 1 == as_json["count"]


def test_log_in_json_is_one_array_streamed_a_page_at_a_time(sample_url: str,
                                                            monkeypatch) -> None:
    import tracker.render

    whole = json.loads(ok(sample_url, "log", "--format", "json").stdout)
    monkeypatch.setattr(tracker.render, "PAGE", 7)  # many pages: one array, one header
    assert json.loads(ok(sample_url, "log", "--format", "json").stdout) == whole
    paged = _parsed("csv", ok(sample_url, "log", "--format", "csv").stdout)
    assert len(paged) - 1 == len(whole) and paged[0][0] == "position"
    markdown = ok(sample_url, "log", "--format", "markdown").stdout
    assert markdown.count("# Log") == 1
    assert sum(line.startswith("| ---") for line in markdown.splitlines()) == 1
    assert markdown.rstrip().endswith(f"_{len(whole)} events_")
    assert json.loads(ok(sample_url, "log", "--after", "999999", "--format", "json").stdout) \
        == []


# -- docs/json.md ------------------------------------------------------------------------------

_SECTION = re.compile(r"^## `tracker ([^`]+)`$", re.M)
_KEY = re.compile(r"^\| `([^`]+)` \|", re.M)


def documented() -> dict[str, list[str]]:
    """docs/json.md's keys, by the command (a name in ``COMMANDS``) they are documented for."""
    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {parts[i]: _KEY.findall(parts[i + 1]) for i in range(1, len(parts), 2)}


def _holds(value: Any, path: list[str], where: str) -> int:
    """How many places ``value`` has the key path in (``a[].b``: key ``b`` in every element of
    the array ``a``); a key missing anywhere it should be fails."""
    if not path:
        return 1
    token, rest = path[0], path[1:]
    name, array = token.removesuffix("[]"), token.endswith("[]")
    if name:
        assert isinstance(value, dict) and name in value, f"{where}: no key {name!r}"
        value = value[name]
    if array:
        assert isinstance(value, list), f"{where}: {name or 'the output'} is not an array"
        return sum(_holds(element, rest, where) for element in value)
    return _holds(value, rest, where)


def test_json_md_documents_every_command() -> None:
    assert set(documented()) == set(COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_documented_key_is_in_the_json(sample_url: str, name: str) -> None:
    keys = documented()[name]
    assert keys, name
    report = json.loads(ok(sample_url, *args(sample_url, name), "--format", "json").stdout)
    for key in keys:  # each key found somewhere (the sample has an example of each)
        assert _holds(report, _path(key), f"tracker {name}: {key}"), f"{name}: no {key}"


def _path(key: str) -> list[str]:
    """``stories[].sources[].link`` as ``["stories[]", "sources[]", "link"]``; ``[].name`` as
    ``["[]", "name"]``."""
    return [part for part in re.split(r"\.(?![^\[]*\])", key) if part]


def test_news_keeps_its_keys(sample_url: str) -> None:
    story = news_json(sample_url)["stories"][0]
    assert {"link", "feed", "position"} <= set(story["sources"][0])
    assert "value" in story["facts"][0]


# -- CSV formula injection ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3",
                                  "@SUM(A1:A9)", "\t=1", "\r=1"])
def test_a_cell_that_could_start_a_formula_is_written_as_text(text: str) -> None:
    assert guarded(text) == "'" + text
    assert cell(text) == "'" + text
    assert cell([text, "b"]) == "'" + text + "; b"


def test_numbers_and_plain_text_are_left_alone() -> None:
    assert (cell(-5), cell(1.5), cell("Hong Kong"), cell(None), cell(True)) == \
        (-5, 1.5, "Hong Kong", "", "true")
    assert guarded("a=b") == "a=b"


FORMULA_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Formulae</title><link>https://news.example/</link>
<item>
<title>=HYPERLINK("https://evil.example/x","Hong Kong Zhejiang supply chain services mechanism")\
</title>
<link>https://news.example/formula</link>
<guid isPermaLink="false">formula-1</guid>
<pubDate>Tue, 29 Apr 2025 02:00:00 GMT</pubDate>
<description>Hong Kong and Zhejiang agreed to set up a supply chain services mechanism.\
</description>
</item>
</channel></rss>
"""


def test_feed_text_never_reaches_a_spreadsheet_as_a_formula(sqlite_url: str,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "formulae.xml"
    path.write_text(FORMULA_FEED, encoding="utf-8")
    ok(sqlite_url, "feeds", "add", "formulae", str(path), "--allow-local",
       "--publisher", "@evil", "--tier", "press")
    ok(sqlite_url, "ingest", "--feed", "formulae")

    outputs = {name: ok(sqlite_url, *cmd, "--format", "csv").stdout for name, cmd in {
        "news": ("news",), "sources": ("sources",), "log": ("log",),
        "status": ("status",), "timeline": ("timeline",)}.items()}

    rows = {name: _parsed("csv", text) for name, text in outputs.items()}
    cells = [c for table in rows.values() for row in table for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", c)]
    titles = [r[rows["news"][0].index("title")] for r in rows["news"][1:]]
    assert titles == ["'" + '=HYPERLINK("https://evil.example/x","Hong Kong Zhejiang supply '
                      'chain services mechanism")']
    assert [r[0] for r in rows["sources"][1:] if "evil" in r[0]] == ["'@evil"]


def test_an_unknown_format_is_refused(sample_url: str) -> None:
    result = run(sample_url, "status", "--format", "yaml")
    assert result.exit_code == 2 and "yaml" in result.output


def test_indented_json_is_what_json_dumps_writes_whichever_encoder_runs() -> None:
    """Reports are written through orjson when it writes the very same text as
    ``json.dumps(indent=2, ensure_ascii=False)``; every other value goes to the stdlib. The two
    must never differ: floats of every magnitude, -0.0, inf and NaN, integers at and past 64
    bits, control characters, U+2028, astral and lone surrogates, tuples, non-str keys."""
    import json
    import math
    import random
    import struct

    from tracker.render.json_format import indented

    rng = random.Random(17)
    odd_text = ["", "\x00\x1f\x7f", "\u2028\u2029", "é😀", '"\\/', "\ud800", "a\nb\tc"]

    def scalar() -> object:
        roll = rng.randint(0, 7)
        if roll == 0:
            bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
            return bits if not math.isnan(bits) else 0.0
        if roll == 1:
            return rng.choice([0.0, -0.0, 1e-4, 9.99e-5, 1e16, 9999999999999998.0, 0.5,
                               math.inf, -math.inf, 1e-7, 123.0])
        if roll == 2:
            return rng.choice([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1])
        if roll == 3:
            return rng.choice([True, False, None])
        return rng.choice(odd_text) + str(rng.randint(0, 99))

    def value(depth: int) -> object:
        if depth > 3 or rng.random() < 0.4:
            return scalar()
        roll = rng.randint(0, 3)
        if roll == 0:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if roll == 1:
            return tuple(value(depth + 1) for _ in range(rng.randint(0, 3)))
        if roll == 2 and rng.random() < 0.2:
            return {rng.randint(0, 9): value(depth + 1)}
        return {rng.choice(odd_text) + str(i): value(depth + 1) for i in range(rng.randint(0, 3))}

    for _ in range(4000):
        document = value(0)
        try:
            expected = json.dumps(document, ensure_ascii=False, indent=2)
        except ValueError:
            continue
        assert indented(document) == expected, repr(document)
    nan = {"x": math.nan}
    assert indented(nan) == json.dumps(nan, ensure_ascii=False, indent=2)
