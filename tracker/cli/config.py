"""`tracker config show`: every setting's effective value and where it came from."""

from __future__ import annotations

import json
from typing import Any

import click

from tracker.cli import Context, main, pass_ctx
from tracker.db import masked
from tracker.settings import Effective


@main.group("config")
def config() -> None:
    """The settings in force: flags, environment, config file (tracker.toml), defaults.

    Each setting comes from its flag, else its environment variable, else the config file,
    else its default. The config file is --config PATH, else $TRACKER_CONFIG, else
    tracker.toml in the user's config directory (~/.config/tracker/ on Linux); relative
    paths in it are read from its own directory, and it holds no secrets, only the names of
    the variables that do (smtp.password_env, alerts.channels.NAME.secret_env).

    \b
    Example:
        tracker config show
    """


def _shown(found: Effective) -> Any:
    """A value fit to print: a database URL's password masked."""
    if found.key == "database_url" and found.value is not None:
        return masked(str(found.value))
    return found.value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, metavar="FORMAT", help="Output format: text or json.")
@pass_ctx
def config_show(ctx: Context, fmt: str) -> None:
    """Print every setting's effective value with its source: flag, env, file or default
    (passwords in a database URL masked; secrets themselves are never read here).

    \b
    Examples:
        tracker config show
        tracker config show --format json --database-url postgresql://localhost/tracker
    """
    settings = ctx.settings
    found = settings.effective()
    where = settings.file
    file_state = "found" if where.found else "not found"
    if fmt == "json":
        click.echo(json.dumps({
            "config_file": {"path": str(where.path), "named_by": where.named_by,
                            "found": where.found},
            "settings": {f.key: {"value": _shown(f), "source": f.source,
                                 "from": f.origin or None} for f in found},
        }, indent=2, ensure_ascii=False))
        return
    named = {"flag": "--config", "env": "$TRACKER_CONFIG", "default": "default location"}
    click.echo(f"config file: {where.path} ({named[where.named_by]}; {file_state})")
    width = max(len(f.key) for f in found)
    values = [_text(_shown(f)) for f in found]
    value_width = min(max(len(v) for v in values), 60)
    for f, value in zip(found, values, strict=True):
        origin = f.source if f.source in ("default", "file") else f"{f.source} {f.origin}"
        click.echo(f"{f.key:<{width}}  {value:<{value_width}}  {origin}".rstrip())
