"""The command line: parse, call one application function, render."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import click
import sqlalchemy as sa

from tracker import app, catalogue, dossier, render_lists
from tracker import feeds as feeds_app
from tracker.config import database_url
from tracker.db import masked
from tracker.errors import TrackerError
from tracker.events import iso
from tracker.render import render
from tracker.when import When, parse_when

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

    @property
    def bare_tracker(self) -> app.Tracker:
        """The database migrated but, when new, left empty (the target of an import)."""
        if self._tracker is None:
            self._tracker = app.open_tracker(self.url)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


def _on_new_database(tracker: app.Tracker) -> None:
    """A new database starts with the shipped dossiers and default feed subscriptions."""
    dossier.load_seeds(tracker)

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


FORMATS = click.Choice(["text", "json", "markdown"])


def _when(ctx: Context, text: str | None) -> When | None:
    return parse_when(text, ctx.tracker.now()) if text is not None else None


@main.command("seed")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@pass_ctx
def seed(ctx: Context, paths: tuple[str, ...]) -> None:
    """Load seed dossiers into the log (the shipped ones when no PATH is given).

    Loading is idempotent: event ids are derived from each seed entry, so a second run
    appends nothing. A new database is seeded automatically.

    \b
    Examples:
        tracker seed
        tracker seed seeds/hk-zhejiang-supply-chain.json
    """
    result = dossier.load_seeds(ctx.tracker, list(paths) or None)
    click.echo(f"seeded {result.files} dossier file(s): {result.appended} new event(s), "
               f"{result.already} already in the log")


@main.command("status")
@click.option("--as-of", "as_of", metavar="WHEN",
              help="What the log knew at WHEN (recorded time).")
@click.option("--world-as-of", "world_as_of", metavar="WHEN",
              help="What had happened in the world by WHEN, as known now.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@pass_ctx
def status(ctx: Context, as_of: str | None, world_as_of: str | None, fmt: str) -> None:
    """The state of each tracked policy, every fact with its sources.

    WHEN is an ISO date or time (2025-04-30, 2025-04, 2025, 2025-04-30T12:00Z) or a
    relative form (7d, 12h, 2w). A date means the end of that day (UTC).

    \b
    Examples:
        tracker status
        tracker status --world-as-of 2024 --format markdown
        tracker status --as-of 7d --format json
    """
    report = dossier.status(ctx.tracker, as_of=_when(ctx, as_of),
                            world_as_of=_when(ctx, world_as_of))
    click.echo(render(report, "status", fmt))  # type: ignore[arg-type]


@main.command("timeline")
@click.option("--since", metavar="WHEN", help="Only what happened from WHEN on.")
@click.option("--until", metavar="WHEN", help="Only what happened up to WHEN.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@pass_ctx
def timeline(ctx: Context, since: str | None, until: str | None, fmt: str) -> None:
    """What happened, in world order, each entry with its source.

    \b
    Examples:
        tracker timeline
        tracker timeline --since 2025-04 --until 2025-05 --format markdown
    """
    report = dossier.timeline(ctx.tracker, since=_when(ctx, since), until=_when(ctx, until))
    click.echo(render(report, "timeline", fmt))  # type: ignore[arg-type]


@main.command("diff")
@click.option("--since", metavar="WHEN", required=True,
              help="Compare the state the log knew at WHEN ...")
@click.option("--until", metavar="WHEN", help="... with the state at WHEN (default: now).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@pass_ctx
def diff(ctx: Context, since: str, until: str | None, fmt: str) -> None:
    """Facts added, changed and retracted between two recorded times, with sources.

    \b
    Examples:
        tracker diff --since 7d
        tracker diff --since 2026-01-01 --until 2026-02-01 --format json
    """
    since_when = _when(ctx, since)
    assert since_when is not None
    report = dossier.diff(ctx.tracker, since=since_when, until=_when(ctx, until))
    click.echo(render(report, "diff", fmt))  # type: ignore[arg-type]


@main.command("replay")
@click.option("--projection", "names", multiple=True, metavar="NAME",
              help="Only this projection (repeatable); default: all.")
@pass_ctx
def replay(ctx: Context, names: tuple[str, ...]) -> None:
    """Drop projections and rebuild them from the log, with a progress bar.

    \b
    Examples:
        tracker replay
        tracker replay --projection policy_state
    """
    total = dossier.replay_size(ctx.tracker, list(names) or None)
    with click.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
        positions = dossier.replay(ctx.tracker, list(names) or None, progress=bar.update)
    for name, position in positions.items():
        click.echo(f"{name}: rebuilt up to position {position}")


@main.command("retract")
@click.argument("position", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why the event is withdrawn.")
@pass_ctx
def retract(ctx: Context, position: int, reason: str) -> None:
    """Withdraw the event at POSITION: projections drop what it set; the log keeps both.

    \b
    Example:
        tracker retract 12 --reason "figure misreported; see correction"
    """
    event = dossier.retract(ctx.tracker, position, reason)
    click.echo(f"retracted position {position} (retraction recorded at {event.position})")


@main.command("correct")
@click.argument("position", type=click.IntRange(min=1))
@click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A corrected field (VALUE is JSON, or else text); repeatable.")
@click.option("--reason", required=True, help="Why the correction is made.")
@pass_ctx
def correct(ctx: Context, position: int, assignments: tuple[str, ...], reason: str) -> None:
    """Record a correction: the event at POSITION is retracted and a corrected copy appended.

    \b
    Example:
        tracker correct 14 --set project_count=52 --reason "official list has 52 projects"
    """
    changes: dict[str, Any] = {}
    for assignment in assignments:
        field, sep, value = assignment.partition("=")
        if not sep or not field.strip():
            raise click.BadParameter(f"{assignment!r} is not FIELD=VALUE", param_hint="--set")
        try:
            changes[field.strip()] = json.loads(value)
        except json.JSONDecodeError:
            changes[field.strip()] = value
    out = dossier.correct(ctx.tracker, position, changes, reason)
    click.echo(f"corrected position {position}: retraction at {out[0].position}, "
               f"replacement at {out[-1].position}")


@main.command("catalogue")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True)
def catalogue_command(fmt: str) -> None:
    """Every event type tracker records: its fields and schema version.

    \b
    Example:
        tracker catalogue --format markdown > docs/events.md
    """
    if fmt == "markdown":
        click.echo(catalogue.render_markdown())
        return
    for et in catalogue.types():
        click.echo(f"{et.name} v{et.version}: {et.summary}")
        for name, meaning in et.fields.items():
            flag = "*" if name in et.required else " "
            click.echo(f"   {flag} {name:<20} {meaning}")


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="Write here instead of standard output.")
@pass_ctx
def export(ctx: Context, fmt: str, output: Any) -> None:
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
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_ctx
def import_command(ctx: Context, file: Any) -> None:
    """Load an export into this database. Events already present at the same positions are
    skipped, so importing twice changes nothing; a log that differs is refused.

    \b
    Example:
        tracker --database-url postgresql://localhost/tracker import log.jsonl
    """
    from tracker.transfer import import_events

    total = 0
    if file.seekable():
        total = max(sum(1 for _line in file) - 1, 0)
        file.seek(0)
    with click.progressbar(length=total, label="importing", file=sys.stderr,
                           show_pos=True) as bar:
        result = import_events(ctx.bare_tracker, file, progress=bar.update)
    click.echo(f"imported {result.imported} event(s), {result.skipped} already present")


@main.command("project")
@click.option("--follow", is_flag=True,
              help="Keep running: apply new events as they are appended (LISTEN/NOTIFY on "
                   "PostgreSQL, short polling on SQLite) until SIGINT or SIGTERM.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=2.0,
              show_default=True, help="Seconds between safety polls while following.")
@pass_ctx
def project(ctx: Context, follow: bool, poll_interval: float) -> None:
    """Bring every projection up to date with the log (once, or continuously with --follow).

    Several followers may run at once; each event is applied exactly once.

    \b
    Examples:
        tracker project
        tracker --database-url postgresql://localhost/tracker project --follow
    """
    from tracker import follow as following

    projector = dossier.projector(ctx.tracker)
    if not follow:
        for name, position in projector.catch_up().items():
            click.echo(f"{name}: up to position {position}")
        return
    stop = threading.Event()
    with _stop_on_signals(stop):
        click.echo("following the log (Ctrl-C to stop)", err=True)
        following.follow(projector, ctx.tracker.engine, stop=stop, poll_interval=poll_interval,
                         on_batch=lambda n, cps: click.echo(
                             f"applied {n} event(s); checkpoints "
                             + ", ".join(f"{k}={v}" for k, v in cps.items()), err=True))
    click.echo("stopped", err=True)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` so long-running commands finish their unit of work."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    try:
        for sig in previous:
            signal.signal(sig, handler)
    except ValueError:  # not the main thread (e.g. under a test runner): no handlers
        previous = {}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@main.group()
def feeds() -> None:
    """Feed subscriptions (events in the log) and their health.

    \b
    Example:
        tracker feeds add scmp-china https://www.scmp.com/rss/4/feed --every 1h --tag news
    """


@feeds.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--every", metavar="INTERVAL", help="Polling interval: 30m, 1h, 1h30m (default 30m).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag (repeatable).")
@click.option("--allow-local", is_flag=True,
              help="Accept a local file path or file:// URL (offline use).")
@pass_ctx
def feeds_add(ctx: Context, name: str, url: str, every: str | None, tags: tuple[str, ...],
              allow_local: bool) -> None:
    """Follow a feed (or change an existing subscription's URL, interval or tags).

    \b
    Examples:
        tracker feeds add rthk-local https://rthk.hk/rthk/news/rss/e_expressnews_elocal.xml
        tracker feeds add sample ./seeds/feeds/harbour-business-daily.xml --allow-local
    """
    sub = feeds_app.add_feed(ctx.tracker, name, url, every, tags, allow_local)
    click.echo(f"following {sub.name}: {sub.url} every {render_lists.interval(sub.every_seconds)}")


@feeds.command("remove")
@click.argument("name")
@pass_ctx
def feeds_remove(ctx: Context, name: str) -> None:
    """Stop following a feed (its items stay in the log).

    \b
    Example:
        tracker feeds remove rthk-local
    """
    feeds_app.remove_feed(ctx.tracker, name)
    click.echo(f"no longer following {name}")


@feeds.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@pass_ctx
def feeds_list(ctx: Context, fmt: str) -> None:
    """The feeds followed, with interval and tags.

    \b
    Example:
        tracker feeds list --format json
    """
    subs = [{"name": s.name, "url": s.url, "every_seconds": s.every_seconds,
             "tags": list(s.tags)}
            for s in sorted(feeds_app.subscriptions(ctx.tracker).values(), key=lambda s: s.name)]
    if fmt == "json":
        click.echo(json.dumps(subs, indent=2))
        return
    click.echo(render_lists.feeds_text(subs), nl=False)


@feeds.command("health")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@pass_ctx
def feeds_health(ctx: Context, fmt: str) -> None:
    """Per feed: last success, last error, consecutive failures, next attempt, items recorded.

    \b
    Example:
        tracker feeds health
    """
    rows = [row.as_dict() for row in feeds_app.health(ctx.tracker)]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    click.echo(render_lists.health_text(rows), nl=False)


@main.command("ingest")
@click.option("--feed", metavar="NAME", help="Only this feed, due or not.")
@click.option("--dry-run", is_flag=True, help="Fetch and classify, record nothing.")
@pass_ctx
def ingest(ctx: Context, feed: str | None, dry_run: bool) -> None:
    """One pass over the feeds that are due: the cron entry point.

    Each feed is one transaction (its new events and its fetch state together); one feed's
    failure never stops the others. Prints a line per feed polled and a summary line.
    Exit status: 0 when every feed polled was fine, 6 when at least one failed.

    \b
    Examples:
        tracker ingest
        tracker ingest --feed rthk-local --dry-run
    """
    from tracker.ingest.run import ingest as run_ingest

    summary = run_ingest(ctx.tracker, feed=feed, dry_run=dry_run)
    for outcome in summary.outcomes:
        click.echo(outcome.line(), err=outcome.status == "failed")
    click.echo(summary.line())
    sys.exit(summary.exit_code)


@main.command("news")
@click.option("--since", metavar="WHEN", help="Only stories published from WHEN on.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@pass_ctx
def news_command(ctx: Context, since: str | None, fmt: str) -> None:
    """Follow-up stories, newest first: sources that carried each, score, matched terms, facts.

    \b
    Examples:
        tracker news --since 7d
        tracker news --format json
    """
    from tracker.news import news

    report = news(ctx.tracker, since=_when(ctx, since))
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    click.echo(render_lists.news_text(report), nl=False)


@main.command("reclassify")
@click.option("--rules", type=click.Path(dir_okay=False, exists=True),
              help="A relevance rules file (default: the shipped seeds/relevance.toml).")
@pass_ctx
def reclassify(ctx: Context, rules: str | None) -> None:
    """Re-evaluate every recorded item under the current relevance rules; changed decisions
    are recorded as new events (nothing is rewritten).

    \b
    Example:
        tracker reclassify --rules my-rules.toml
    """
    from tracker.ingest import relevance
    from tracker.news import reclassify as run_reclassify

    result = run_reclassify(ctx.tracker, relevance.load_rules(rules) if rules else None)
    click.echo(f"reclassified {result.items} item(s) under rules {result.rules_version}: "
               f"{result.changed} changed, {result.newly_relevant} newly relevant, "
               f"{result.no_longer_relevant} no longer relevant")


@main.command("schedule")
@pass_ctx
def schedule(ctx: Context) -> None:
    """Run ingest on a schedule (APScheduler): one job per feed at its interval, until
    SIGINT or SIGTERM. Feeds added or removed while it runs are picked up within a minute.

    \b
    Example:
        tracker --database-url postgresql://localhost/tracker schedule
    """
    from tracker import schedule as scheduling

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.tracker  # noqa: B018  (migrate and seed a new database before jobs start)
    stop = threading.Event()
    with _stop_on_signals(stop):
        click.echo("scheduler running (Ctrl-C to stop)", err=True)
        scheduling.run(ctx.url, stop)
    click.echo("scheduler stopped", err=True)
