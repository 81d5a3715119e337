"""Commands on the publishers behind the feeds and seed sources, and their tiers."""

from __future__ import annotations

import click

from tracker import publishers as publishers_app
from tracker.cli import Context, format_option, main, pass_ctx, show
from tracker.render import Format


@main.group(invoke_without_command=True)
@format_option()
@click.pass_context
def sources(click_ctx: click.Context, fmt: Format) -> None:
    """Publishers, strongest tier first: the tier in force, who set it (a feed, a seed source
    or an analyst, with the log positions) and their feeds.

    \b
    Examples:
        tracker sources
        tracker sources --format json
    """
    if click_ctx.invoked_subcommand is None:
        ctx = click_ctx.find_object(Context)
        assert ctx is not None
        show(publishers_app.publishers(ctx.tracker), "sources", fmt)


@sources.command("set-tier")
@click.argument("publisher")
@click.argument("tier", metavar="TIER")
@click.option("--note", metavar="TEXT", help="Why, recorded with the rating.")
@pass_ctx
def sources_set_tier(ctx: Context, publisher: str, tier: str, note: str | None) -> None:
    """Rate a publisher: TIER (official, wire, press, aggregator or unrated) stands over the
    tier its feeds and seed sources give.

    Recorded as an event (publisher.rated); `tracker retract` withdraws it.

    \b
    Example:
        tracker sources set-tier Xinhua press --note "reads as a newspaper, not a wire"
    """
    doc = publishers_app.set_tier(ctx.tracker, publisher, tier, note)
    click.echo(f"{doc['publisher']}: {doc['tier']} (set by {doc['tier_set_by']})")
