"""Running the CLI as a user would, against a database URL, through click's CliRunner."""

from __future__ import annotations

from click.testing import CliRunner, Result

from tracker.cli import main


def cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args])


def ok(url: str, *args: str) -> Result:
    """The command's result, which must have succeeded."""
    result = cli(url, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result
