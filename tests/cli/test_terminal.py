"""Text for a terminal: wrapped within the width (COLUMNS honoured, CJK counted as two
columns), no colour when piped or with NO_COLOR, readable values and plurals, truncation that
says so, and a closed pipe that ends the command quietly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click.testing
import pytest
from rich.cells import cell_len

from tests.support.paths import SAMPLE_FEEDS
from tests.support.sample import COMMANDS, FEEDS, POLICY, args, build, news_json, ok, run
from tracker.app import open_tracker
from tracker.events import NewEvent
from tracker.render import Layout, output, terminal
from tracker.render.words import mapping, plural, value

#: Results printed as one line, never wrapped (kept, grepped or read back: `verify
#: --against` reads the head line).
ONE_LINE = {"head", "db current", "verify", "ingest"}
REPORTS = [name for name in COMMANDS if name not in ONE_LINE]
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build(tmp_path_factory.mktemp("sample"))


def text(url: str, name: str, env: dict[str, str] | None = None, *extra: str) -> str:
    return ok(url, *args(url, name), *extra, env=env).stdout


# -- width -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REPORTS)
def test_columns_60_wraps_every_line_within_60_columns(sample_url: str, name: str) -> None:
    out = text(sample_url, name, {"COLUMNS": "60"})
    too_wide = [line for line in out.splitlines() if cell_len(line) > 60]
    assert not too_wide, too_wide[:3]


def test_chinese_lines_are_measured_in_display_columns(sample_url: str) -> None:
    for name in ("news", "status", "claims"):
        out = text(sample_url, name, {"COLUMNS": "60"})
        chinese = [line for line in out.splitlines() if CJK.search(line)]
        assert chinese, name
        assert max(cell_len(line) for line in chinese) <= 60
        # counted as one column a character, some of them would seem to fit in 40
        assert any(cell_len(line) > len(line) for line in chinese)


def test_the_width_comes_from_columns_else_a_pipe_gets_100(sample_url: str) -> None:
    def widest(env: dict[str, str] | None) -> int:
        return max(cell_len(line) for line in text(sample_url, "news", env).splitlines())

    assert 50 < widest({"COLUMNS": "60"}) <= 60
    assert 100 < widest({"COLUMNS": "200"}) <= 200
    assert 60 < widest({"COLUMNS": ""}) <= 100  # piped, no COLUMNS: the width of a file


def test_a_narrow_terminal_puts_the_text_below_its_label(sample_url: str) -> None:
    out = text(sample_url, "status", {"COLUMNS": "30"})
    assert max(cell_len(line) for line in out.splitlines()) <= 30
    assert "purpose" in out


def test_the_log_is_a_line_an_event_cut_to_the_width(sample_url: str) -> None:
    lines = text(sample_url, "log", {"COLUMNS": "80"}).splitlines()
    events = ok(sample_url, "log", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == len(events)
    assert all(cell_len(line) <= 80 for line in lines)
    assert any(line.endswith("…") for line in lines)


# -- colour ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(COMMANDS))
def test_piped_output_has_no_escapes(sample_url: str, name: str) -> None:
    # color=True: click would keep escapes; none are written, as stdout is not a terminal
    out = ok(sample_url, *args(sample_url, name), color=True).stdout
    assert "\x1b" not in out


def test_on_a_terminal_headings_are_bold_unless_no_color(sample_url: str, monkeypatch) -> None:
    monkeypatch.setattr(terminal, "_is_terminal", lambda stream: True)
    styled = ok(sample_url, "status", color=True, env={"NO_COLOR": None}).stdout
    assert "\x1b[1m" in styled
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb", "NO_COLOR": None}):
        plain = ok(sample_url, "status", color=True, env=env).stdout
        assert "\x1b" not in plain
        assert re.sub(r"\x1b\[[0-9;]*m", "", styled) == plain


def test_layout_for_a_stream() -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            raise OSError("no descriptor")

    assert terminal.layout_for(Tty(), {}) == Layout(terminal.WIDTH, True)
    assert terminal.layout_for(Tty(), {"NO_COLOR": "1", "COLUMNS": "72"}) == Layout(72, False)
    assert terminal.layout_for(Tty(), {"TERM": "dumb"}).styled is False
    assert terminal.layout_for(object(), {"COLUMNS": "nonsense"}) == Layout(terminal.WIDTH,
                                                                            False)
    assert terminal.layout_for(object(), {"COLUMNS": "5"}).width == terminal.MIN_WIDTH


# -- words, not reprs --------------------------------------------------------------------------

REPRS = ("(s)", "(y/ies)", "(es)", "False", "True", "None", "{", "}")


@pytest.mark.parametrize("name", ["status", "news", "feeds list", "feeds health", "ingest",
                                  "claims", "sources", "timeline", "rules show", "alerts list"])
def test_text_shows_words_never_python_or_json(sample_url: str, name: str) -> None:
    out = text(sample_url, name)
    found = [r for r in REPRS if r in out]
    assert not found, (found, [line for line in out.splitlines()
                               if any(r in line for r in found)][:3])


def test_values_read_as_words() -> None:
    assert mapping({"firms": 20}) == "20 firms"
    assert mapping({"firms": 1}) == "1 firm"
    assert mapping({"count": 50, "qualifier": "more_than"}) == "more than 50"
    assert mapping({"status": "first_firms_served", "planned": False, "firms": 20}) \
        == "first firms served, 20 firms"
    assert mapping({"status": "operational", "planned": True}) == "operational, planned"
    assert mapping({"imposer": "US", "percent": 145, "target": "China"}) == "145% (US on China)"
    assert (value(True), value(False), value(None), value(["a", "b"])) == \
        ("yes", "no", "unknown", "a, b")


def test_plurals() -> None:
    assert [plural(n, "entry") for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert plural(1, "feed") == "1 feed" and plural(3, "new story") == "3 new stories"
    report = {"since": None, "until": None, "count": 1, "entries": [
        {"position": 1, "occurred_at": "2025-04", "precision": "month", "type": "x",
         "summary": "One thing"}]}
    assert "1 entry)" in output(report, "timeline", "text").splitlines()[0]


def test_ingest_counts_read_as_words(sqlite_url: str) -> None:
    ok(sqlite_url, "feeds", "add", FEEDS[0], str(SAMPLE_FEEDS / f"{FEEDS[0]}.xml"),
       "--allow-local")
    out = ok(sqlite_url, "ingest", "--feed", FEEDS[0]).stdout
    assert out == ("delta-trade-wire: 6 new items, 5 new stories, 0 corroborations, "
                   "0 revisions, 5 facts\n"
                   "ingest: 1 feed polled, 0 failed, 0 not due; 6 new items, 5 new stories\n")


def test_news_facts_read_as_words(sample_url: str) -> None:
    out = " ".join(text(sample_url, "news", None, "--limit", "0").split())
    assert "* mechanism status: first firms served, 20 firms (confidence 0.85)" in out
    assert "* project count: more than 50 projects" in out
    assert "* tariff rate: 145% (US on China)" in out


# -- ids, truncation, order --------------------------------------------------------------------

def test_story_ids_are_shown_as_their_shortest_unique_prefix(sample_url: str) -> None:
    stories = news_json(sample_url, "--limit", "0")["stories"]
    out = text(sample_url, "news", None, "--limit", "0")
    for story in stories:
        assert story["id"].startswith(story["short_id"]) and len(story["short_id"]) >= 9
        assert f"[{story['short_id']}]" in out and story["id"] not in out
    shorts = [s["short_id"] for s in stories]
    assert len(set(shorts)) == len(shorts)
    explained = ok(sample_url, "news", "--explain", shorts[0], "--format", "json").stdout
    assert json.loads(explained)["id"] == stories[0]["id"]


def test_news_says_when_the_limit_leaves_stories_out(sample_url: str) -> None:
    everything = news_json(sample_url, "--limit", "0")
    assert everything["count"] == everything["total"] == 12
    limited = news_json(sample_url, "--limit", "3")
    assert (limited["count"], limited["total"], limited["limit"]) == (3, 12, 3)
    assert limited["stories"] == everything["stories"][:3]
    assert text(sample_url, "news", None, "--limit", "3").startswith(
        "News: 3 of 12 stories (--limit to see more)")
    assert text(sample_url, "news").startswith("News: 12 stories")
    assert "--limit" not in text(sample_url, "news").splitlines()[0]


def test_news_is_newest_published_first(sample_url: str) -> None:
    published = [s["published"] for s in news_json(sample_url, "--limit", "0")["stories"]]
    assert published == sorted(published, reverse=True)


def test_news_by_feed_and_by_policy(sample_url: str) -> None:
    for feed in FEEDS:
        report = news_json(sample_url, "--feed", feed, "--limit", "0")
        assert report["feed"] == feed and report["stories"]
        assert all(feed in {s["feed"] for s in story["sources"]} for story in report["stories"])
    assert news_json(sample_url, "--policy", POLICY, "--limit", "0")["total"] == 12
    nothing = news_json(sample_url, "--policy", "no-such-policy")
    assert nothing["stories"] == [] and nothing["total"] == 0
    assert text(sample_url, "news", None, "--feed", "nowhere").strip() == \
        "no stories from feed nowhere"


def test_status_says_when_follow_ups_are_capped(sample_url: str) -> None:
    [policy] = json.loads(ok(sample_url, "status", "--format", "json").stdout)["policies"]
    follow = policy["follow_ups"]
    assert (follow["shown"], follow["total"], follow["more"]) == (10, 12, True)
    published = [s["published"] for s in follow["stories"]]
    assert published == sorted(published, reverse=True)  # by world date, not log position
    out = " ".join(text(sample_url, "status").split())
    assert (f"Follow-ups (10 newest of 12; `tracker news --policy {POLICY}` lists all)"
            in out)


# -- a closed pipe -----------------------------------------------------------------------------

def _many_events(url: str, count: int) -> None:
    tracker = open_tracker(url)
    try:
        when = datetime(2025, 5, 1, tzinfo=UTC)
        tracker.store.append("test:notes", [
            NewEvent("test.noted", {"n": n, "text": "x" * 100}, when) for n in range(count)])
    finally:
        tracker.close()


def test_a_closed_pipe_ends_the_command_quietly(sqlite_url: str, tmp_path: Path) -> None:
    ok(sqlite_url, "db", "upgrade")
    _many_events(sqlite_url, 3000)  # far more than a pipe holds
    tracker = Path(sys.executable).parent / "tracker"
    for command in ("log", "log --format jsonl", "export", "catalogue --format csv"):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c",
             f'"{tracker}" --database-url "{sqlite_url}" {command} | head -1'],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "COLUMNS": "80"})
        assert (done.returncode, done.stderr) == (0, ""), command
        assert len(done.stdout.splitlines()) == 1


def test_a_stdout_that_raises_broken_pipe_exits_0_silently(sample_url: str,
                                                           monkeypatch) -> None:
    class Closed(click.testing.BytesIOCopy):
        def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
            raise BrokenPipeError(32, "Broken pipe")

    mixer_init = click.testing.StreamMixer.__init__

    def closed_stdout(self) -> None:  # type: ignore[no-untyped-def]
        mixer_init(self)
        self.stdout = Closed(copy_to=self.output)

    monkeypatch.setattr(click.testing.StreamMixer, "__init__", closed_stdout)
    for name in ("log", "status", "news"):
        result = run(sample_url, *args(sample_url, name))
        assert result.exit_code == 0, (name, result.exception)
        assert result.stderr == ""


def test_another_broken_pipe_is_not_hidden(sample_url: str, monkeypatch) -> None:
    import tracker.cli as cli

    monkeypatch.setattr(cli, "_stdout_gone", lambda: False)

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli.dossier_app, "status", broken)
    result = run(sample_url, "status")
    assert result.exit_code == 1  # click's own answer to an EPIPE: a failure
