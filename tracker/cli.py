"""The command line: parse, call one application function, render."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from tracker import app
from tracker.config import database_url
from tracker.db import masked
from tracker.errors import TrackerError
from tracker.events import iso

EXIT_ERROR = 1


class TrackerGroup(click.Group):
    """Turns known failures into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            _fail(str(exc), exc.exit_code)
        except sa.exc.OperationalError as exc:
            url = ctx.obj.url if isinstance(ctx.obj, Context) else "database"
            _fail(f"database error on {masked(url)}: {_first_line(exc.orig or exc)}", EXIT_ERROR)
        except sa.exc.DBAPIError as exc:
            _fail(f"database error: {_first_line(exc.orig or exc)}", EXIT_ERROR)
        except KeyboardInterrupt:
            _fail("interrupted", 130)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"tracker: {message}", err=True)
    sys.exit(code)


class Context:
    """Opens the database on first use, so `--help` and `db` commands never touch the schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._tracker: app.Tracker | None = None

    @property
    def tracker(self) -> app.Tracker:
        if self._tracker is None:
            self._tracker = app.open_tracker(self.url, on_new_database=_on_new_database)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


def _on_new_database(tracker: app.Tracker) -> None:
    hook = NEW_DATABASE_HOOKS[0] if NEW_DATABASE_HOOKS else None
    if hook is not None:
        hook(tracker)


#: Run once when a new database is created (the seeds register themselves here).
NEW_DATABASE_HOOKS: list[Callable[[app.Tracker], None]] = []

pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", "database_url_opt", envvar="TRACKER_DATABASE_URL", metavar="URL",
              help="sqlite:///path.db, postgresql://user@host/db, or a file path. "
                   "Default: tracker.db in the user's data directory.")
@click.version_option(package_name="tracker")
@click.pass_context
def main(ctx: click.Context, database_url_opt: str | None) -> None:
    """tracker: one record of what happened to a policy, where each fact came from, and what
    the state was on any date.

    \b
    Example:
        tracker status
        tracker --database-url postgresql://localhost/tracker ingest
    """
    url = database_url(database_url_opt)
    ctx.obj = Context(url)
    ctx.call_on_close(ctx.obj.close)


@main.group()
def db() -> None:
    """Database schema: upgrade and inspect (Alembic migrations).

    \b
    Example:
        tracker db upgrade
    """


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create or upgrade the schema to the newest revision.

    \b
    Example:
        tracker --database-url postgresql://localhost/tracker db upgrade
    """
    before, after = app.db_upgrade(ctx.url)
    if before == after:
        click.echo(f"{masked(ctx.url)}: already at revision {after}")
    else:
        click.echo(f"{masked(ctx.url)}: upgraded {before or 'empty'} -> {after}")


@db.command("current")
@pass_ctx
def db_current(ctx: Context) -> None:
    """Show the schema revision of the database and the newest one this tracker knows.

    \b
    Example:
        tracker db current
    """
    current, head = app.db_current(ctx.url)
    state = "up to date" if current == head else "behind: run `tracker db upgrade`"
    click.echo(f"{masked(ctx.url)}: revision {current or 'none'} (newest {head}, {state})")


@main.command("log")
@click.option("--stream", "stream_id", metavar="STREAM", help="Only this stream.")
@click.option("--type", "types", metavar="TYPE", multiple=True,
              help="Only this event type (repeatable).")
@click.option("--after", type=click.IntRange(min=0), default=0, metavar="N",
              help="Only events after position N.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N events.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text",
              show_default=True)
@pass_ctx
def log(ctx: Context, stream_id: str | None, types: tuple[str, ...], after: int,
        limit: int | None, fmt: str) -> None:
    """Print events from the log, oldest first.

    \b
    Examples:
        tracker log --limit 20
        tracker log --type policy.status_changed --format jsonl
        tracker log --stream dossier:hk-zhejiang-supply-chain --after 10
    """
    events = app.log_events(ctx.tracker, stream_id=stream_id, types=list(types), after=after,
                            limit=limit)
    for event in events:
        if fmt == "jsonl":
            record = event.as_dict()
            del record["prev_hash"]
            click.echo(json.dumps(record, ensure_ascii=False, sort_keys=False))
        else:
            click.echo(f"{event.position:>7}  {iso(event.recorded_at)[:19]}  {event.type:<24} "
                       f"{event.stream_id}  {_brief(event.data)}")


def _brief(data: Any, width: int = 80) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


@main.command("verify")
@pass_ctx
def verify(ctx: Context) -> None:
    """Recompute the hash chain over the whole log.

    Exits 0 when every event matches its hash and links to the one before it; otherwise
    prints the first broken position and exits 5.

    \b
    Example:
        tracker verify
    """
    result = app.verify(ctx.tracker)
    if result.ok:
        click.echo(f"ok: {result.checked} events, hash chain intact")
        return
    click.echo(f"broken at position {result.first_bad_position}: {result.reason} "
               f"({result.checked} events before it are intact)", err=True)
    sys.exit(5)
