"""Commands on the news: feed subscriptions, ingest (once or scheduled), stories, relevance."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from tracker import lazy
from tracker.claims import DEFAULT_TIER, TIERS
from tracker.cli import (
    Context,
    format_option,
    interrupt_on_sigterm,
    main,
    pass_ctx,
    show,
    stop_on_signals,
)
from tracker.cli.completion import feed_names
from tracker.cli.params import INTERVAL
from tracker.config import DEFAULT_LEASE_SECONDS, ENV_LEASE, lease_seconds
from tracker.errors import EXIT_FEEDS_UNHEALTHY
from tracker.render import Format, interval

if TYPE_CHECKING:
    from tracker import feeds as feeds_app
else:  # imported when a feeds command runs
    feeds_app = lazy.module("tracker.feeds")

log = logging.getLogger("tracker.ingest")

#: Stories `tracker news` shows unless --limit says otherwise.
NEWS_LIMIT = 20


@main.group()
def feeds() -> None:
    """Feed subscriptions (events in the log) and their health.

    \b
    Examples:
        tracker feeds add scmp-china https://www.scmp.com/rss/4/feed --every 1h --tag news
        tracker feeds health --check
        tracker feeds export --format opml > feeds.opml
    """


@feeds.command("add")
@click.argument("name", shell_complete=feed_names)
@click.argument("url")
@click.option("--every", type=INTERVAL, metavar="INTERVAL",
              help="Polling interval, 1m to 365d: 30m, 1h30m, 1d12h, 1w (default 30m).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag (repeatable).")
@click.option("--allow-local", is_flag=True,
              help="Accept a local file path or file:// URL (offline use).")
@click.option("--allow-private", is_flag=True,
              help="Let the feed reach internal network addresses (loopback, private, "
                   "link-local...), for feeds on an intranet; refused otherwise.")
@click.option("--tier", metavar="TIER",
              help=f"The publisher's tier: {', '.join(TIERS)} (default {DEFAULT_TIER}).")
@click.option("--publisher", metavar="NAME", help="Who publishes it (default: the feed name).")
@click.option("--force", is_flag=True,
              help="Follow a URL another feed already follows, under this name too.")
@pass_ctx
def feeds_add(ctx: Context, name: str, url: str, every: str | None, tags: tuple[str, ...],
              allow_local: bool, allow_private: bool, tier: str | None,
              publisher: str | None, force: bool) -> None:
    """Follow a feed (or change an existing subscription's URL, interval, tags, publisher or
    tier).

    URLs carrying credentials (user:password@) are refused, and so are internal network
    addresses (checked again at every fetch and redirect) unless --allow-private is given.
    A URL another feed already follows is refused (exit 10) unless --force is given: its
    items would be recorded twice.

    \b
    Examples:
        tracker feeds add rthk-local https://rthk.hk/rthk/news/rss/e_expressnews_elocal.xml \\
            --publisher RTHK --tier press
        tracker feeds add sample ./seeds/feeds/harbour-business-daily.xml --allow-local
        tracker feeds add intranet http://news.corp.internal/rss.xml --allow-private
    """
    sub = feeds_app.add_feed(ctx.tracker, name, url, every, tags, allow_local,
                             publisher=publisher, tier=tier, allow_private=allow_private,
                             force=force)
    click.echo(f"following {sub.name}: {sub.url} every {interval(sub.every_seconds)}")


@feeds.command("remove")
@click.argument("name", shell_complete=feed_names)
@pass_ctx
def feeds_remove(ctx: Context, name: str) -> None:
    """Stop following a feed (its items stay in the log).

    \b
    Example:
        tracker feeds remove xinhua-china-en
    """
    feeds_app.remove_feed(ctx.tracker, name)
    click.echo(f"no longer following {name}")


@feeds.command("list")
@format_option()
@pass_ctx
def feeds_list(ctx: Context, fmt: Format) -> None:
    """The feeds followed, with interval and tags.

    \b
    Example:
        tracker feeds list --format json
    """
    show(feeds_app.subscriptions(ctx.tracker).values(), "feeds", fmt)


@feeds.command("health")
@format_option()
@click.option("--check", is_flag=True,
              help="For monitoring: exit 11 when a feed is failing or stale, naming each on "
                   "stderr.")
@pass_ctx
def feeds_health(ctx: Context, fmt: Format, check: bool) -> None:
    """Per feed: last success, last error, consecutive failures, next attempt, items recorded,
    and its state: ok, new (not fetched yet), failing (its last fetch failed) or stale (not
    fetched successfully within three times its interval, or longer when the feed asked for
    that: no worker is running, or it skips the feed).

    With --check, exits 11 when any feed is failing or stale (0 otherwise), for a monitor
    to run.

    \b
    Examples:
        tracker feeds health
        tracker feeds health --check --format json
    """
    found = feeds_app.health(ctx.tracker)
    show(found, "feed_health", fmt)
    if check:
        problems = [feed for feed in found if not feed.healthy]
        for feed in problems:
            click.echo(f"tracker: {feed.problem()}", err=True)
        if problems:
            sys.exit(EXIT_FEEDS_UNHEALTHY)


@feeds.command("export")
@click.option("--format", "fmt", type=click.Choice(["opml"]), default="opml",
              show_default=True, metavar="FORMAT",
              help="Output format: opml (OPML 2.0, what feed readers import).")
@pass_ctx
def feeds_export(ctx: Context, fmt: str) -> None:
    """Print the subscriptions as OPML, for a feed reader or another tracker: name, URL, tags,
    and (in attributes other readers ignore) interval, publisher, tier and permissions.

    \b
    Example:
        tracker feeds export --format opml > feeds.opml
    """
    click.echo(feeds_app.export_opml(ctx.tracker), nl=False)


@feeds.command("import")
@click.argument("file", type=click.File("rb"), metavar="FILE")
@click.option("--allow-local", is_flag=True,
              help="Accept feeds that are local files (file:// URLs).")
@click.option("--allow-private", is_flag=True,
              help="Accept feeds that may reach internal network addresses.")
@click.option("--force", is_flag=True,
              help="A name already followed takes the file's URL; a URL already followed "
                   "under another name is followed under the file's name too.")
@pass_ctx
def feeds_import(ctx: Context, file: Any, allow_local: bool, allow_private: bool,
                 force: bool) -> None:
    """Follow every feed an OPML file lists (from a feed reader, or `feeds export`), all or
    nothing: each feed is checked as `feeds add` checks one, then all are recorded together.

    Folders become tags; titles become feed names (South China Morning Post:
    south-china-morning-post). A feed already followed under its name and URL is left as it
    is; a name that follows another URL, or a URL another feed follows, is refused (exit
    10) unless --force is given. FILE may be - for stdin.

    \b
    Examples:
        tracker feeds export --format opml > feeds.opml
        tracker feeds import feeds.opml
    """
    name = str(getattr(file, "name", "<stdin>"))
    name = "stdin" if name in ("<stdin>", "-") else name
    result = feeds_app.import_opml(ctx.tracker, file.read(), name, allow_local=allow_local,
                                   allow_private=allow_private, force=force)
    for feed in result.added:
        click.echo(f"following {feed}")
    for feed in result.changed:
        click.echo(f"changed {feed}")
    click.echo(result.line())


def lease_option(command: Any) -> Any:
    """``--lease``: how long a feed stays claimed by a worker that stops renewing it."""
    return click.option(
        "--lease", "lease", metavar="DURATION",
        help=f"How long a feed stays claimed once its worker stops renewing it (it renews "
             f"every third of that while it works): what a worker killed outright costs its "
             f"feeds. 90, 90s or 2m, from 10s to 60m; default ${ENV_LEASE}, else "
             f"{DEFAULT_LEASE_SECONDS}s.")(command)


@main.command("ingest")
@click.option("--feed", metavar="NAME", shell_complete=feed_names,
              help="Only this feed, due or not.")
@click.option("--dry-run", is_flag=True, help="Fetch and classify, record nothing.")
@lease_option
@format_option()
@pass_ctx
def ingest(ctx: Context, feed: str | None, dry_run: bool, lease: str | None,
           fmt: Format) -> None:
    """One pass over the feeds that are due: the cron entry point.

    Each feed is one transaction (its new events and its fetch state together); one feed's
    failure never stops the others. Prints a line per feed polled (a feed another worker
    holds shows as busy, with the holder and its lease's expiry) and a summary line.
    SIGINT or SIGTERM hands the feed in hand back at once.
    Exit status: 0 when every feed polled was fine, 6 when at least one failed, 130 when
    interrupted.

    \b
    Examples:
        tracker ingest
        tracker ingest --feed rthk-local-en --dry-run
        tracker ingest --lease 5m --format json
    """
    from tracker.ingest.run import ingest as run_ingest

    seconds = lease_seconds(lease)
    log.info("ingest %s", "started (dry run)" if dry_run else "started")
    with interrupt_on_sigterm():
        summary = run_ingest(ctx.tracker, feed=feed, dry_run=dry_run, lease_seconds=seconds)
    for outcome in summary.outcomes:  # -v: a timestamped line per feed, for cron's log
        log.info("%s", outcome.line())
    log.info("%s", summary.line())
    report = summary.report()
    if fmt == "text":  # a failed feed is an error: its line goes to stderr, for cron's mail
        from tracker.render.text import ingest_line

        for failed in (f for f in report["feeds"] if f["status"] == "failed"):
            click.echo(ingest_line(failed), err=True)
    show(report, "ingest", fmt)
    if not dry_run:
        from tracker.cli.alerts import send_after_ingest

        send_after_ingest(ctx, fmt)
    sys.exit(summary.exit_code)


@main.command("news")
@click.option("--since", metavar="WHEN",
              help="World time: only stories published from the start of WHEN on.")
@click.option("--until", metavar="WHEN",
              help="World time: only stories published by the end of WHEN.")
@click.option("--explain", "story", metavar="STORY",
              help="Why one story (id or unique prefix of 6+ characters) holds its items: "
                   "how each joined, its relevance decisions, analysts' merges and splits.")
@click.option("--limit", type=click.IntRange(0), default=NEWS_LIMIT, show_default=True,
              metavar="N", help="At most N stories, the newest (0: all); the output says how "
                                "many it left out.")
@click.option("--feed", "feed", metavar="NAME", help="Only stories this feed carried.")
@click.option("--policy", "policy_id", metavar="ID", help="Only stories about this dossier.")
@format_option()
@pass_ctx
def news_command(ctx: Context, since: str | None, until: str | None, story: str | None,
                 limit: int, feed: str | None, policy_id: str | None, fmt: Format) -> None:
    """Follow-up stories by publication date, newest first: sources that carried each, score,
    matched terms, facts. Each story's id is shown as the shortest prefix that names it alone
    (what `tracker stories merge|split` and `--explain` take).

    \b
    Examples:
        tracker news --since 7d
        tracker news --format json
        tracker news --since 7d --format markdown > briefing.md
        tracker --tz Asia/Hong_Kong news --since yesterday --until yesterday
        tracker news --explain st-f50842b2
        tracker news --feed rthk-local-en --policy hk-zhejiang-supply-chain --limit 5
        tracker news --limit 0 --format csv > stories.csv
    """
    from tracker.news import explain, news

    if story is not None:
        show(explain(ctx.tracker, story), "explain", fmt)
    else:
        show(news(ctx.tracker, since=ctx.when(since), until=ctx.when(until),
                  limit=limit or None, feed=feed, policy=policy_id), "news", fmt)


@main.command("reclassify")
@click.option("--rules", type=click.Path(dir_okay=False, exists=True),
              help="A relevance rules file (default: $TRACKER_RULES, else the config file's "
                   "rules, else the active rules, `tracker rules show`).")
@click.option("--policy", "policy_id", metavar="ID",
              help="Only this dossier (default: every tracked dossier, each under its own "
                   "rules; with --rules, the one tracked).")
@pass_ctx
def reclassify(ctx: Context, rules: str | None, policy_id: str | None) -> None:
    """Re-evaluate every recorded item under the current relevance rules of each tracked
    dossier; changed decisions are recorded as new events (nothing is rewritten).

    Without --rules, the rules file $TRACKER_RULES or the config file's `rules` names, if
    any, else each dossier's active rules.

    \b
    Example:
        tracker reclassify --rules my-rules.toml
    """
    from tracker.reclassify import reclassify as run_reclassify
    from tracker.rules_log import rules_by_policy

    if rules is None:
        rules = ctx.settings.value("rules")
    result = run_reclassify(ctx.tracker, rules_by_policy(ctx.tracker, rules, policy_id))
    click.echo(f"reclassified {result.items} item(s) under rules {result.rules_version}: "
               f"{result.changed} changed, {result.newly_relevant} newly relevant, "
               f"{result.no_longer_relevant} no longer relevant")


@main.command("schedule")
@lease_option
@pass_ctx
def schedule(ctx: Context, lease: str | None) -> None:
    """Run ingest on a schedule (APScheduler): one job per feed at its interval, until
    SIGINT or SIGTERM (jobs running then finish their feed and hand it back). Feeds added or
    removed while it runs are picked up within a minute.

    A feed that fails is logged at WARNING (shown by default, timestamped, on stderr); -v
    logs every job's outcome too. APScheduler's own lines show only with -vv.

    \b
    Examples:
        tracker -v schedule
        tracker schedule --database-url postgresql://localhost/tracker
    """
    from tracker.jobs import scheduler as scheduling

    seconds = lease_seconds(lease)  # checked before anything starts, the setting included
    ctx.tracker  # noqa: B018  (migrate and seed a new database before jobs start)
    stop = threading.Event()
    with stop_on_signals(stop):
        click.echo("scheduler running (Ctrl-C to stop)", err=True)
        scheduling.run(ctx.url, stop, lease_seconds=seconds)
    click.echo("scheduler stopped", err=True)
