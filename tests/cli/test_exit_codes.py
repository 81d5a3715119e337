"""Exit codes live in one place (tracker/errors.py); the README and `tracker --help` list them."""

from __future__ import annotations

import re

from click.testing import CliRunner

from tests.support.paths import ROOT
from tracker import errors
from tracker.cli import main


def constants() -> dict[int, str]:
    return {value: name for name, value in vars(errors).items()
            if name.startswith("EXIT_") and isinstance(value, int)}


def test_every_code_is_listed_once_with_a_meaning() -> None:
    codes = [code for code, _meaning in errors.EXIT_CODES]
    assert len(codes) == len(set(codes)) and codes == sorted(codes)
    assert set(codes) == set(constants()), "an EXIT_ constant missing from EXIT_CODES"
    assert all(meaning.strip() for _code, meaning in errors.EXIT_CODES)


def test_the_readme_lists_exactly_the_codes() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- exit-codes -->", 1)[1].strip().split("\n\n", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", block, re.M)
    assert [(int(code), meaning) for code, meaning in rows] == list(errors.EXIT_CODES)


def test_the_help_epilog_lists_exactly_the_codes() -> None:
    text = CliRunner().invoke(main, ["--help"], terminal_width=200).output
    block = text.split("Exit status:", 1)[1]
    rows = re.findall(r"^\s+(\d+)\s{2,}(.+?)\s*$", block, re.M)
    assert [(int(code), meaning) for code, meaning in rows] == list(errors.EXIT_CODES)


def test_usage_errors_alone_exit_2() -> None:
    """2 is click's usage code and ours for bad input; a refusal because the log already holds
    something, and a bad config file, have codes of their own."""
    assert errors.UsageError.exit_code == errors.EXIT_USAGE == 2
    assert errors.AlreadyError.exit_code == errors.EXIT_ALREADY != errors.EXIT_USAGE
    assert errors.ConfigError.exit_code == errors.EXIT_CONFIG != errors.EXIT_USAGE
    for exc in (errors.ConcurrencyError, errors.SchemaError, errors.SchemaNewerError,
                errors.ProjectionAheadError, errors.DuplicateEventError):
        assert exc.exit_code != errors.EXIT_USAGE, exc


def test_retracting_twice_is_not_a_usage_error(sqlite_url) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["--database-url", sqlite_url, "retract", "50", "--reason", "x"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["--database-url", sqlite_url, "retract", "50", "--reason", "x"])
    assert again.exit_code == errors.EXIT_ALREADY
    assert again.stderr.startswith("tracker: position 50 was already retracted")
    assert len(again.stderr.strip().splitlines()) == 1
    unknown = runner.invoke(main, ["--database-url", sqlite_url, "retract", "99999",
                                   "--reason", "x"])
    assert unknown.exit_code == errors.EXIT_USAGE
