"""Commands on the news: feed subscriptions, ingest (once or scheduled), stories, relevance."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import click

from tracker import feeds as feeds_app
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
from tracker.cli.params import INTERVAL
from tracker.config import DEFAULT_LEASE_SECONDS, ENV_LEASE, lease_seconds
from tracker.render import Format, interval


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
@click.option("--every", type=INTERVAL, metavar="INTERVAL",
              help="Polling interval, 1m to 365d: 30m, 1h, 1h30m (default 30m).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag (repeatable).")
@click.option("--allow-local", is_flag=True,
              help="Accept a local file path or file:// URL (offline use).")
@click.option("--allow-private", is_flag=True,
              help="Let the feed reach internal network addresses (loopback, private, "
                   "link-local...), for feeds on an intranet; refused otherwise.")
@click.option("--tier", metavar="TIER",
              help=f"The publisher's tier: {', '.join(TIERS)} (default {DEFAULT_TIER}).")
@click.option("--publisher", metavar="NAME", help="Who publishes it (default: the feed name).")
@pass_ctx
def feeds_add(ctx: Context, name: str, url: str, every: str | None, tags: tuple[str, ...],
              allow_local: bool, allow_private: bool, tier: str | None,
              publisher: str | None) -> None:
    """Follow a feed (or change an existing subscription's URL, interval, tags, publisher or
    tier).

    URLs carrying credentials (user:password@) are refused, and so are internal network
    addresses (checked again at every fetch and redirect) unless --allow-private is given.

    \b
    Examples:
        tracker feeds add rthk-local https://rthk.hk/rthk/news/rss/e_expressnews_elocal.xml \\
            --publisher RTHK --tier press
        tracker feeds add sample ./seeds/feeds/harbour-business-daily.xml --allow-local
        tracker feeds add intranet http://news.corp.internal/rss.xml --allow-private
    """
    sub = feeds_app.add_feed(ctx.tracker, name, url, every, tags, allow_local,
                             publisher=publisher, tier=tier, allow_private=allow_private)
    click.echo(f"following {sub.name}: {sub.url} every {interval(sub.every_seconds)}")


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
@format_option("text", "json")
@pass_ctx
def feeds_list(ctx: Context, fmt: Format) -> None:
    """The feeds followed, with interval and tags.

    \b
    Example:
        tracker feeds list --format json
    """
    show(feeds_app.subscriptions(ctx.tracker).values(), "feeds", fmt)


@feeds.command("health")
@format_option("text", "json")
@pass_ctx
def feeds_health(ctx: Context, fmt: Format) -> None:
    """Per feed: last success, last error, consecutive failures, next attempt, items recorded.

    \b
    Example:
        tracker feeds health
    """
    show(feeds_app.health(ctx.tracker), "feed_health", fmt)


def lease_option(command: Any) -> Any:
    """``--lease``: how long a feed stays claimed by a worker that stops renewing it."""
    return click.option(
        "--lease", "lease", metavar="DURATION",
        help=f"How long a feed stays claimed once its worker stops renewing it (it renews "
             f"every third of that while it works): what a worker killed outright costs its "
             f"feeds. 90, 90s or 2m, from 10s to 60m; default ${ENV_LEASE}, else "
             f"{DEFAULT_LEASE_SECONDS}s.")(command)


@main.command("ingest")
@click.option("--feed", metavar="NAME", help="Only this feed, due or not.")
@click.option("--dry-run", is_flag=True, help="Fetch and classify, record nothing.")
@lease_option
@format_option("text", "json")
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
        tracker ingest --feed rthk-local --dry-run
        tracker ingest --lease 5m --format json
    """
    from tracker.ingest.run import ingest as run_ingest

    seconds = lease_seconds(lease)
    with interrupt_on_sigterm():
        summary = run_ingest(ctx.tracker, feed=feed, dry_run=dry_run, lease_seconds=seconds)
    if fmt == "json":
        show(summary.report(), "ingest", fmt)
    else:
        for outcome in summary.outcomes:
            click.echo(outcome.line(), err=outcome.status == "failed")
        click.echo(summary.line())
    if not dry_run:
        from tracker.cli.alerts import send_after_ingest

        send_after_ingest(ctx, fmt)
    sys.exit(summary.exit_code)


@main.command("news")
@click.option("--since", metavar="WHEN", help="Only stories published from WHEN on.")
@click.option("--explain", "story", metavar="STORY",
              help="Why one story (id or unique prefix of 6+ characters) holds its items: "
                   "how each joined, its relevance decisions, analysts' merges and splits.")
@format_option("text", "json", "markdown")
@pass_ctx
def news_command(ctx: Context, since: str | None, story: str | None, fmt: Format) -> None:
    """Follow-up stories, newest first: sources that carried each, score, matched terms, facts.

    \b
    Examples:
        tracker news --since 7d
        tracker news --format json
        tracker news --since 7d --format markdown > briefing.md
        tracker news --explain st-3f2a9c
    """
    from tracker.news import explain, news

    if story is not None:
        show(explain(ctx.tracker, story), "explain", fmt)
    else:
        show(news(ctx.tracker, since=ctx.when(since)), "news", fmt)


@main.command("reclassify")
@click.option("--rules", type=click.Path(dir_okay=False, exists=True),
              help="A relevance rules file (default: the active rules, `tracker rules show`).")
@click.option("--policy", "policy_id", metavar="ID",
              help="Only this dossier (default: every tracked dossier, each under its own "
                   "rules; with --rules, the one tracked).")
@pass_ctx
def reclassify(ctx: Context, rules: str | None, policy_id: str | None) -> None:
    """Re-evaluate every recorded item under the current relevance rules of each tracked
    dossier; changed decisions are recorded as new events (nothing is rewritten).

    \b
    Example:
        tracker reclassify --rules my-rules.toml
    """
    from tracker.news import reclassify as run_reclassify
    from tracker.rules_log import rules_by_policy

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

    \b
    Example:
        tracker --database-url postgresql://localhost/tracker schedule
    """
    from tracker.jobs import scheduler as scheduling

    seconds = lease_seconds(lease)  # checked before anything starts, the setting included
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.tracker  # noqa: B018  (migrate and seed a new database before jobs start)
    stop = threading.Event()
    with stop_on_signals(stop):
        click.echo("scheduler running (Ctrl-C to stop)", err=True)
        scheduling.run(ctx.url, stop, lease_seconds=seconds)
    click.echo("scheduler stopped", err=True)
