"""Commands on the log itself: read, check and move it; the schema; the event catalogue."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

import click

from tracker import app, catalogue, migrate
from tracker.cli import Context, format_option, main, pass_ctx, show
from tracker.cli.params import COUNT, POSITION_OR_START
from tracker.dates import iso
from tracker.db import masked
from tracker.errors import EXIT_CHAIN_BROKEN, UsageError
from tracker.render import Format


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

    A schema from a newer tracker (a revision this one does not know) is left alone: exit 8.

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

    Exits 8 when the database was migrated by a newer tracker.

    \b
    Example:
        tracker db current
    """
    current, head = app.db_current(ctx.url)
    if current != head:
        migrate.refuse_newer(current)
    state = "up to date" if current == head else "behind: run `tracker db upgrade`"
    click.echo(f"{masked(ctx.url)}: revision {current or 'none'} (newest {head}, {state})")


#: Events rendered and printed at a time by ``tracker log``.
LOG_PAGE = 1000


@main.command("log")
@click.option("--stream", "stream_id", metavar="STREAM", help="Only this stream.")
@click.option("--type", "types", metavar="TYPE", multiple=True,
              help="Only this event type (repeatable).")
@click.option("--after", type=POSITION_OR_START, default=0, metavar="N",
              help="Only events after position N.")
@click.option("--limit", type=COUNT, metavar="N", help="At most N events.")
@format_option("text", "jsonl")
@pass_ctx
def log(ctx: Context, stream_id: str | None, types: tuple[str, ...], after: int,
        limit: int | None, fmt: Format) -> None:
    """Print events from the log, oldest first.

    \b
    Examples:
        tracker log --limit 20
        tracker log --type policy.status_changed --format jsonl
        tracker log --stream dossier:gba-cross-boundary --after 10
    """
    events = app.log_events(ctx.tracker, stream_id=stream_id, types=list(types), after=after,
                            limit=limit)
    while page := list(itertools.islice(events, LOG_PAGE)):  # a log may not fit in memory
        show(page, "log", fmt)


@main.command("head")
@format_option("text", "json")
@pass_ctx
def head(ctx: Context, fmt: Format) -> None:
    """Print the position and hash of the last event, to keep or publish elsewhere.

    The hash chain shows an event changed, but not a log cut short or rewritten from some
    point on; a head kept outside the database does: `tracker verify --against FILE` fails
    unless the log still holds it.

    \b
    Examples:
        tracker head
        tracker head --format json > head-2025-05-01.json
    """
    current = app.head(ctx.tracker)
    if fmt == "json":
        recorded = iso(current.recorded_at) if current.recorded_at is not None else None
        click.echo(json.dumps({"position": current.position, "hash": current.hash,
                               "recorded_at": recorded}, sort_keys=True))
    else:
        click.echo(app.head_line(current))


@main.command("verify")
@click.option("--against", "against", type=click.File("r", encoding="utf-8"), metavar="FILE",
              help="Also check that the log still holds this head, saved earlier from "
                   "`tracker head` (either format).")
@pass_ctx
def verify(ctx: Context, against: Any) -> None:
    """Recompute the hash chain over the whole log, and check what it cannot show.

    Exits 0 when every event matches its hash and links to the one before it, the log still
    holds the head given with --against, and no projection is past the log's end; otherwise
    prints the first problem on one line and exits 5.

    \b
    Examples:
        tracker verify
        tracker verify --against head-2025-05-01.json
    """
    saved = None
    if against is not None:
        try:
            text = against.read(app.SAVED_HEAD_LIMIT)
        except UnicodeDecodeError:
            raise UsageError(f"{against.name}: not UTF-8 text; expected the output of "
                             "`tracker head`") from None
        saved = app.saved_head(text, against.name)
    result = app.verify(ctx.tracker, against=saved)
    if result.ok:
        holds = f"; holds the saved head (position {saved.position})" if saved else ""
        click.echo(f"ok: {result.checked} events, hash chain intact{holds}")
        return
    if result.first_bad_position is None:
        click.echo(f"broken: {result.reason}", err=True)
    else:
        click.echo(f"broken at position {result.first_bad_position}: {result.reason} "
                   f"({result.checked} events before it are intact)", err=True)
    sys.exit(EXIT_CHAIN_BROKEN)


@main.command("catalogue")
@format_option("text", "markdown")
def catalogue_command(fmt: Format) -> None:
    """Every event type tracker records: its fields and schema version.

    \b
    Example:
        tracker catalogue --format markdown > docs/events.md
    """
    show(catalogue.types(), "catalogue", fmt)


@main.command("export")
@format_option("jsonl", default="jsonl")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write here instead of standard output.")
@pass_ctx
def export(ctx: Context, fmt: Format, output: Any) -> None:
    """Write the whole log as JSON lines: ids, both time axes and the hash chain, verbatim.

    \b
    Examples:
        tracker export -o log.jsonl
        tracker export | tracker --database-url postgresql://localhost/tracker import -
    """
    from tracker.transfer import export_events

    count = export_events(ctx.tracker.store, output)
    click.echo(f"exported {count} event(s)", err=True)


@main.command("import")
@click.argument("file", type=click.File("rb"))
@pass_ctx
def import_command(ctx: Context, file: Any) -> None:
    """Load an export into this database, all or nothing: a bad line anywhere, or an import
    cut short, leaves the database as it was. Events already present at the same positions are
    skipped, so importing twice changes nothing; a log that differs is refused.

    \b
    Example:
        tracker --database-url postgresql://localhost/tracker import log.jsonl
    """
    from tracker.transfer import import_events

    total = 0
    if file.seekable():
        total = max(sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 16), b""))
                    - 1, 0)
        file.seek(0)
    with click.progressbar(length=total, label="importing", file=sys.stderr,
                           show_pos=True) as bar:
        result = import_events(ctx.bare_tracker, file, progress=bar.update)
    click.echo(f"imported {result.imported} event(s), {result.skipped} already present")
