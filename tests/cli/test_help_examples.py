"""Every example in every command's --help runs as written.

Each help page's examples run in order, as a reader would type them, through CliRunner, in a
temporary copy of a freshly seeded database (the shipped dossier and default feeds) with the
README's offline sample feeds ingested (what `claims`, `news --explain` and `stories`
examples work on), from a working directory holding the files examples name as a reader's
own (`my-rules.toml`, `dossiers/gba-cross-boundary.json`, `./seeds/feeds/...`). Shell
syntax is followed: `&&`, `|` between tracker commands (stdout becomes stdin), `> FILE`.
Programs other than tracker (`mail`, `xdg-open`) are not run.

Examples that need a server, the network or run until stopped are skipped by name, each with
its reason; a skip that matches no example any more fails, so the list cannot go stale.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from tests.support.paths import ROOT
from tracker.cli import main

#: Examples not run, and why.
SKIP = {
    "tracker --database-url postgresql://localhost/tracker ingest": "a PostgreSQL server",
    "tracker --database-url postgresql://localhost/tracker db upgrade": "a PostgreSQL server",
    "tracker --database-url postgresql://localhost/tracker import log.jsonl":
        "a PostgreSQL server",
    "tracker --database-url postgresql://localhost/tracker project --follow":
        "a server, and runs until stopped",
    "tracker schedule --database-url postgresql://localhost/tracker":
        "a server, and runs until stopped",
    "tracker -v schedule": "runs until stopped, fetching public feeds",
    "tracker ingest": "fetches the public default feeds",
    "tracker ingest --feed rthk-local-en --dry-run": "fetches a public feed",
    "tracker ingest --lease 5m --format json": "fetches the public default feeds",
    "tracker alerts test ops": "posts to a real webhook URL",
    "tracker alerts test analysts --smtp-host smtp.example.org --smtp-port 587":
        "sends mail through a real SMTP server",
}
#: Programs examples pipe into or chain after, which the test does not run.
OTHER_PROGRAMS = {"mail", "xdg-open"}
SAMPLE_FEEDS = ("delta-trade-wire", "harbour-business-daily", "gangzhe-caijing")


def _pages(group: click.Group, prefix: list[str]) -> Iterator[list[str]]:
    yield prefix
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            yield from _pages(command, [*prefix, name])
        else:
            yield [*prefix, name]


def examples(path: list[str]) -> list[str]:
    """The example lines of ``tracker PATH --help``, continuation lines (``\\``) joined."""
    text = CliRunner().invoke(main, [*path, "--help"], terminal_width=400).output
    found: list[str] = []
    inside, pending = False, ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("Example:", "Examples:"):
            inside = True
            continue
        if not inside:
            continue
        if not stripped:
            inside = False
            continue
        pending = f"{pending} {stripped}".strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        found.append(pending)
        pending = ""
    return found


PAGES = {" ".join(["tracker", *path]): examples(path) for path in _pages(main, [])}


def test_examples_are_found_on_every_page() -> None:
    assert len(PAGES) > 40
    assert all(PAGES.values()), [page for page, lines in PAGES.items() if not lines]
    assert sum(len(lines) for lines in PAGES.values()) > 80


def test_every_skip_names_an_example() -> None:
    shown = {line for lines in PAGES.values() for line in lines}
    assert set(SKIP) <= shown, set(SKIP) - shown


def _run(args: list[str], env: dict[str, str], stdin: bytes | None) -> Result:
    return CliRunner().invoke(main, args, input=stdin, env=env, catch_exceptions=True)


def run_example(line: str, env: dict[str, str], workdir: Path) -> None:
    """Run one example line as a shell would, failing on the first command that fails."""
    assert line.startswith("tracker "), line
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&>")
    lexer.whitespace_split = True
    tokens = list(lexer)
    for chain in _split(tokens, "&&"):
        stdin: bytes | None = None
        for command in _split(chain, "|"):
            target = None
            if ">" in command:
                at = command.index(">")
                command, target = command[:at], command[at + 1]
            if command[0] in OTHER_PROGRAMS:
                continue
            assert command[0] == "tracker", f"{line}: cannot run {command[0]!r}"
            result = _run(command[1:], env, stdin)
            assert result.exit_code == 0, (
                f"`{line}` exited {result.exit_code}:\n{result.stderr or result.output}"
                f"{result.exception!r}")
            stdin = result.stdout_bytes
            if target is not None:
                (workdir / target).write_bytes(result.stdout_bytes)


def _split(tokens: list[str], separator: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for token in tokens:
        if token == separator:
            out.append([])
        else:
            out[-1].append(token)
    return [part for part in out if part]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new database (seeded on first use) with the README's offline sample ingested."""
    folder = tmp_path_factory.mktemp("help-examples")
    db = folder / "tracker.db"
    env = _env(db, folder)
    assert _run(["status"], env, None).exit_code == 0
    for name in SAMPLE_FEEDS:
        added = _run(["feeds", "add", name, str(ROOT / "seeds" / "feeds" / f"{name}.xml"),
                      "--allow-local"], env, None)
        assert added.exit_code == 0, added.output
    for name in SAMPLE_FEEDS:
        ingested = _run(["ingest", "--feed", name], env, None)
        assert ingested.exit_code == 0, ingested.output
    return db


def _env(db: Path, folder: Path) -> dict[str, str]:
    """The database to use, and no config file or setting from the machine running tests."""
    return {"TRACKER_DATABASE_URL": str(db), "TRACKER_CONFIG": "",
            "XDG_CONFIG_HOME": str(folder / "config"),
            "TRACKER_SMTP_HOST": "", "TRACKER_ALERT_ATTEMPTS": "",
            "COLUMNS": "100"}


def _reader_files(workdir: Path) -> None:
    """The files examples name as the reader's own."""
    rules = (ROOT / "seeds" / "relevance.toml").read_text(encoding="utf-8")
    (workdir / "my-rules.toml").write_text(
        rules.replace('version = "2025-05-01.4"', 'version = "my-rules.1"'), encoding="utf-8")
    dossiers = workdir / "dossiers"
    dossiers.mkdir()
    fixtures = ROOT / "tests" / "fixtures" / "dossiers"
    shutil.copy(fixtures / "gba-cross-boundary-data.json", dossiers / "gba-cross-boundary.json")
    shutil.copy(fixtures / "gba-cross-boundary-data.toml", dossiers)
    shutil.copytree(ROOT / "seeds" / "feeds", workdir / "seeds" / "feeds")


@pytest.mark.parametrize("page", sorted(PAGES))
def test_help_examples_run(page: str, template: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "tracker.db"
    shutil.copy(template, db)
    workdir = tmp_path / "work"
    workdir.mkdir()
    _reader_files(workdir)
    monkeypatch.chdir(workdir)
    env = _env(db, tmp_path)
    ran = 0
    for line in PAGES[page]:
        if line in SKIP:
            continue
        run_example(line, env, workdir)
        ran += 1
    if not ran:
        pytest.skip(f"every example of `{page} --help` is skipped: {SKIP[PAGES[page][0]]}")


def test_destructive_examples_say_so() -> None:
    """`retract` withdraws for good, and `correct` retracts: their help says so."""
    for command in ("retract", "correct"):
        text = CliRunner().invoke(main, [command, "--help"], terminal_width=400).output
        assert "permanently" in text, command
