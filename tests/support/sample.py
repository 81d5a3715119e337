"""A database with the sample data every format and terminal test reads: the shipped dossier,
the three sample feeds ingested (English and Chinese stories, facts, claims) and an alert
channel. Built once per test module (``sample_url``); the tests only read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from tests.support.paths import SAMPLE_FEEDS
from tracker.cli import main

FEEDS = ("delta-trade-wire", "gangzhe-caijing", "harbour-business-daily")
POLICY = "hk-zhejiang-supply-chain"


def run(url: str, *args: str, env: dict[str, str] | None = None, color: bool = False) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args], env=env, color=color)


def ok(url: str, *args: str, env: dict[str, str] | None = None, color: bool = False) -> Result:
    result = run(url, *args, env=env, color=color)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def build(directory: Path) -> str:
    url = f"sqlite:///{directory / 'sample.db'}"
    for name in FEEDS:
        ok(url, "feeds", "add", name, str(SAMPLE_FEEDS / f"{name}.xml"), "--allow-local")
        ok(url, "ingest", "--feed", name)
    ok(url, "alerts", "add", "daily", "digest", "--policy", POLICY)
    return url


def news_json(url: str, *args: str) -> dict[str, Any]:
    return json.loads(ok(url, "news", "--format", "json", *args).stdout)


def a_story_id(url: str) -> str:
    return str(news_json(url)["stories"][0]["id"])


#: Every command that prints a report or a list, as run on the sample (a command that needs an
#: argument gets it from the sample: see ``args``). The ingest is a dry run: nothing changes.
COMMANDS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "timeline": ("timeline",),
    "diff": ("diff", "--since", "2000"),
    "news": ("news",),
    "news --explain": ("news", "--explain", "{story}"),
    "claims": ("claims", "--state", "all"),
    "sources": ("sources",),
    "feeds list": ("feeds", "list"),
    "feeds health": ("feeds", "health"),
    "ingest": ("ingest", "--feed", "delta-trade-wire", "--dry-run"),
    "log": ("log",),
    "catalogue": ("catalogue",),
    "verify": ("verify",),
    "head": ("head",),
    "db current": ("db", "current"),
    "rules show": ("rules", "show"),
    "alerts list": ("alerts", "list"),
}


def args(url: str, name: str) -> list[str]:
    """The command line of ``COMMANDS[name]`` on the sample."""
    return [a.replace("{story}", a_story_id(url)) if "{story}" in a else a
            for a in COMMANDS[name]]
