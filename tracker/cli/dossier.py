"""Commands on the dossiers: seed them, read their state, amend them, rebuild projections."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import click

from tracker import dossier
from tracker.cli import Context, format_option, main, pass_ctx, show, stop_on_signals
from tracker.cli.params import POSITION, SecondsType
from tracker.errors import UsageError
from tracker.limits import load_json
from tracker.render import Format


@main.command("seed")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@pass_ctx
def seed(ctx: Context, paths: tuple[str, ...]) -> None:
    """Load seed dossiers into the log (the shipped ones when no PATH is given).

    Each PATH adds a dossier, and the relevance rules its "rules" key names (a TOML file next
    to it) are put in force for it; ingest then follows every tracked dossier. Loading is
    idempotent: event ids are derived from each seed entry, so a second run appends nothing.
    A new database is seeded automatically.

    \b
    Examples:
        tracker seed
        tracker seed dossiers/gba-cross-boundary.json
    """
    result = dossier.load_seeds(ctx.tracker, list(paths) or None)
    click.echo(f"seeded {result.files} dossier file(s): {result.appended} new event(s), "
               f"{result.already} already in the log")


@main.command("status")
@click.option("--as-of", "as_of", metavar="WHEN",
              help="Log time: what the log knew by the end of WHEN.")
@click.option("--world-as-of", "--until", "world_as_of", metavar="WHEN",
              help="World time: what had happened in the world by the end of WHEN, as known "
                   "now.")
@format_option()
@pass_ctx
def status(ctx: Context, as_of: str | None, world_as_of: str | None, fmt: Format) -> None:
    """The state of each tracked policy, every fact with its sources.

    WHEN is an ISO date or time (2025-04-30, 2025-04, 2025, 2025-04-30T12:00), now, today,
    yesterday, or a time ago (7d, 1d12h, 2w, 3 days ago), within the years 1900 to 2200.
    A period ends at its end in the time zone (--tz): 2024 is the end of 31 December 2024;
    a bound is never later than now.

    \b
    Examples:
        tracker status
        tracker status --world-as-of 2024 --format markdown
        tracker status --as-of 7d --format json
    """
    report = dossier.status(ctx.tracker, as_of=ctx.when(as_of),
                            world_as_of=ctx.when(world_as_of))
    show(report, "status", fmt)


@main.command("timeline")
@click.option("--since", metavar="WHEN",
              help="World time: only what happened from the start of WHEN on.")
@click.option("--until", metavar="WHEN",
              help="World time: only what happened by the end of WHEN.")
@format_option()
@pass_ctx
def timeline(ctx: Context, since: str | None, until: str | None, fmt: Format) -> None:
    """What happened, in world order, each entry with its source.

    \b
    Examples:
        tracker timeline
        tracker timeline --since 2025-04 --until 2025-05 --format markdown
    """
    report = dossier.timeline(ctx.tracker, since=ctx.when(since), until=ctx.when(until))
    show(report, "timeline", fmt)


@main.command("diff")
@click.option("--since", metavar="WHEN",
              help="World time: compare the world as it stood at the start of WHEN ...")
@click.option("--until", metavar="WHEN",
              help="... with the world at the end of WHEN (default: now).")
@click.option("--recorded-since", "recorded_since", metavar="WHEN",
              help="Log time: compare what the log knew at the start of WHEN ...")
@click.option("--as-of", "as_of", metavar="WHEN",
              help="... with what it knew at the end of WHEN (default: now).")
@format_option()
@pass_ctx
def diff(ctx: Context, since: str | None, until: str | None, recorded_since: str | None,
         as_of: str | None, fmt: Format) -> None:
    """Facts added, changed and retracted between two states, with sources: in the world
    (--since, --until: what happened) or in the log (--recorded-since, --as-of: what the
    tracker learnt), or both.

    \b
    Examples:
        tracker diff --since 2025-05
        tracker diff --recorded-since today
        tracker diff --recorded-since 2026-01-01 --as-of 2026-01-31 --format json
    """
    report = dossier.diff(ctx.tracker, since=ctx.when(since), until=ctx.when(until),
                          recorded_since=ctx.when(recorded_since), as_of=ctx.when(as_of))
    show(report, "diff", fmt)


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
    dossier.require_writable(ctx.tracker, "rebuild projections")
    total = dossier.replay_size(ctx.tracker, list(names) or None)
    with click.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
        positions = dossier.replay(ctx.tracker, list(names) or None, progress=bar.update)
    for name, position in positions.items():
        click.echo(f"{name}: rebuilt up to position {position}")


@main.command("retract")
@click.argument("position", type=POSITION)
@click.option("--reason", required=True, help="Why the event is withdrawn.")
@pass_ctx
def retract(ctx: Context, position: int, reason: str) -> None:
    """Withdraw the event at POSITION: projections drop what it set; the log keeps both.

    This withdraws the event permanently. The retraction is itself an event in the log, but
    it cannot be undone: a retraction is never retracted, and the withdrawn event cannot be
    recorded again. To change a value rather than withdraw it, use `tracker correct`. Find
    the position first with `tracker log --type TYPE` (below, the seeded view of an unnamed
    investor).

    \b
    Examples:
        tracker log --type commentary.recorded
        tracker retract 50 --reason "unattributed view; the source cannot be checked"
    """
    event = dossier.retract(ctx.tracker, position, reason)
    click.echo(f"retracted position {position} (retraction recorded at {event.position})")


def _changes(assignments: tuple[str, ...]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` options as fields: VALUE read as JSON, or else kept as text."""
    changes: dict[str, Any] = {}
    for assignment in assignments:
        field, sep, value = assignment.partition("=")
        if not sep or not field.strip():
            raise click.BadParameter(f"{assignment!r} is not FIELD=VALUE", param_hint="--set")
        try:
            changes[field.strip()] = load_json(value)
        except json.JSONDecodeError:
            changes[field.strip()] = value
        except ValueError as exc:  # too deep, or a number too long to hold
            raise UsageError(f"--set {field.strip()}: {str(exc).split(':')[0]}") from None
    return changes


@main.command("correct")
@click.argument("position", type=POSITION)
@click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
              help="A corrected field (VALUE is JSON, or else text); repeatable.")
@click.option("--reason", required=True, help="Why the correction is made.")
@pass_ctx
def correct(ctx: Context, position: int, assignments: tuple[str, ...], reason: str) -> None:
    """Record a correction: the event at POSITION is retracted and a corrected copy appended.

    The event at POSITION is withdrawn permanently (as `tracker retract` does), in the same
    transaction as its corrected copy; the copy is an event like any other and can itself be
    corrected. Find the position first with `tracker log --type TYPE` (below, the seeded
    count of project agreements signed on the visit).

    \b
    Examples:
        tracker log --type agreement.signed
        tracker correct 40 --set project_count=52 --reason "official list has 52 projects"
    """
    changes = _changes(assignments)
    out = dossier.correct(ctx.tracker, position, changes, reason)
    click.echo(f"corrected position {position}: retraction at {out[0].position}, "
               f"replacement at {out[-1].position}")


@main.command("project")
@click.option("--follow", is_flag=True,
              help="Keep running: apply new events as they are appended (LISTEN/NOTIFY on "
                   "PostgreSQL, short polling on SQLite) until SIGINT or SIGTERM.")
@click.option("--poll-interval", type=SecondsType(0.05, 3600), default=2.0,
              show_default=True,
              help="Seconds between safety polls while following (0.05 to 3600).")
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

    dossier.require_writable(ctx.tracker, "bring projections up to date")
    projector = dossier.projector(ctx.tracker)
    if not follow:
        for name, position in projector.catch_up().items():
            click.echo(f"{name}: up to position {position}")
        return
    stop = threading.Event()
    with stop_on_signals(stop):
        click.echo("following the log (Ctrl-C to stop)", err=True)
        following.follow(projector, ctx.tracker.engine, stop=stop, poll_interval=poll_interval,
                         on_batch=lambda n, cps: click.echo(
                             f"applied {n} event(s); checkpoints "
                             + ", ".join(f"{k}={v}" for k, v in cps.items()), err=True))
    click.echo("stopped", err=True)
