"""Commands on the log itself: read, check and move it; the schema; the event catalogue."""

from __future__ import annotations

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
from tracker.render.words import plural


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
    Examples:
        tracker db upgrade
        tracker --database-url postgresql://localhost/tracker db upgrade
    """
    before, after = app.db_upgrade(ctx.url)
    if before == after:
        click.echo(f"{masked(ctx.url)}: already at revision {after}")
    else:
        click.echo(f"{masked(ctx.url)}: upgraded {before or 'empty'} -> {after}")


@db.command("current")
@format_option()
@pass_ctx
def db_current(ctx: Context, fmt: Format) -> None:
    """Show the schema revision of the database and the newest one this tracker knows.

    Exits 8 when the database was migrated by a newer tracker.

    \b
    Examples:
        tracker db current
        tracker db current --format json
    """
    current, head = app.db_current(ctx.url)
    if current != head:
        migrate.refuse_newer(current)
    show({"database": masked(ctx.url), "revision": current, "newest": head,
          "up_to_date": current == head}, "db", fmt)


@main.command("log")
@click.option("--stream", "stream_id", metavar="STREAM", help="Only this stream.")
@click.option("--type", "types", metavar="TYPE", multiple=True,
              help="Only this event type (repeatable).")
@click.option("--after", type=POSITION_OR_START, default=0, metavar="N",
              help="Only events after position N.")
@click.option("--limit", type=COUNT, metavar="N", help="At most N events.")
@format_option(stream=True)
@pass_ctx
def log(ctx: Context, stream_id: str | None, types: tuple[str, ...], after: int,
        limit: int | None, fmt: Format) -> None:
    """Print events from the log, oldest first: in text a line each, cut to the width (the
    other formats hold every field).

    \b
    Examples:
        tracker log --limit 20
        tracker log --type policy.status_changed --format jsonl
        tracker log --stream dossier:hk-zhejiang-supply-chain --after 10
        tracker log --format csv > log.csv
    """
    events = app.log_events(ctx.tracker, stream_id=stream_id, types=list(types), after=after,
                            limit=limit)
    show(events, "log", fmt)  # printed a page at a time: a log may not fit in memory


@main.command("head")
@format_option()
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
    recorded = iso(current.recorded_at) if current.recorded_at is not None else None
    show({"position": current.position, "hash": current.hash, "recorded_at": recorded},
         "head", fmt)


@main.command("verify")
@click.option("--against", "against", type=click.File("r", encoding="utf-8"), metavar="FILE",
              help="Also check that the log still holds this head, saved earlier from "
                   "`tracker head` (either format).")
@format_option()
@pass_ctx
def verify(ctx: Context, against: Any, fmt: Format) -> None:
    """Recompute the hash chain over the whole log, and check what it cannot show.

    Exits 0 when every event matches its hash and links to the one before it, the log still
    holds the head given with --against, and no projection is past the log's end; otherwise
    prints the first problem on one line (on stderr; in the other formats, the report on
    stdout) and exits 5.

    \b
    Examples:
        tracker verify
        tracker head --format json > head-2025-05-01.json
        tracker verify --against head-2025-05-01.json
        tracker verify --format json
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
    report = {"ok": result.ok, "checked": result.checked,
              "first_bad_position": result.first_bad_position,
              "reason": None if result.ok else result.reason,
              "against": {"position": saved.position, "hash": saved.hash} if saved else None}
    if result.ok or fmt != "text":
        show(report, "verify", fmt)
    else:  # the problem is an error: one line on stderr
        from tracker.render import output

        click.echo(output(report, "verify", fmt).rstrip("\n"), err=True)
    if not result.ok:
        sys.exit(EXIT_CHAIN_BROKEN)


@main.command("catalogue")
@format_option()
def catalogue_command(fmt: Format) -> None:
    """Every event type tracker records: its fields and schema version.

    \b
    Examples:
        tracker catalogue --format markdown > events.md
        tracker catalogue --format csv
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
        tracker export | tracker import - --database-url copy.db
    """
    from tracker.transfer import export_events

    count = export_events(ctx.tracker.store, output)
    click.echo(f"exported {plural(count, 'event')}", err=True)


@main.command("import")
@click.argument("file", type=click.File("rb"))
@pass_ctx
def import_command(ctx: Context, file: Any) -> None:
    """Load an export into this database, all or nothing: a bad line anywhere, or an import
    cut short, leaves the database as it was. Events already present at the same positions are
    skipped, so importing twice changes nothing; a log that differs is refused.

    \b
    Examples:
        tracker export -o log.jsonl
        tracker import log.jsonl --database-url copy.db
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
