"""Running the CLI as a user would, against a database URL, through click's CliRunner."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from tracker.cli import main


def cli(url: str, *args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args], input=stdin)


def ok(url: str, *args: str) -> Result:
    """The command's result, which must have succeeded."""
    result = cli(url, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def one_line_error(result: Result, code: int, *fragments: str) -> str:
    """The single ``tracker: ...`` line a refused command printed on stderr: it must exit
    ``code``, without a traceback, and mention every one of ``fragments``."""
    assert result.exit_code == code, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def logged_events(url: str, *types: str) -> list[dict[str, Any]]:
    """The log as `tracker log --format jsonl` prints it, of ``types`` only when given."""
    args = ["log", "--format", "jsonl"]
    for event_type in types:
        args += ["--type", event_type]
    return [json.loads(line) for line in ok(url, *args).stdout.splitlines()]
