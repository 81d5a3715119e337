"""Commands on the relevance rules: put a rules file in force (an event) and show the active one."""

from __future__ import annotations

import click

from tracker.cli import Context, format_option, main, pass_ctx, show
from tracker.render import Format

_POLICY = click.option("--policy", "policy_id", default=None, metavar="ID",
                       help="The policy (dossier) the rules decide relevance for "
                            "(default: the one tracked; required when there are several).")


@main.group()
def rules() -> None:
    """The relevance rules ingest and reclassify use: the last `rules set`, else the packaged
    seeds/relevance.toml.

    \b
    Examples:
        tracker rules show
        tracker rules set my-rules.toml --policy hk-zhejiang-supply-chain
    """


@rules.command("set")
@click.argument("file", type=click.Path(dir_okay=False))
@_POLICY
@pass_ctx
def rules_set(ctx: Context, file: str, policy_id: str | None) -> None:
    """Put the rules in FILE in force (a rules.set event holding the whole file).

    The file is validated first: a bad one changes nothing. Setting the version already in
    force records nothing. Run `tracker reclassify` to re-apply them to recorded items.

    \b
    Example:
        tracker rules set my-rules.toml
    """
    from tracker import rules_log  # imported when used: `tracker --help` stays fast

    policy_id = rules_log.policy_or_only(ctx.tracker, policy_id)
    active, recorded = rules_log.set_rules(ctx.tracker, file, policy_id)
    if recorded:
        position = active.event.position if active.event is not None else "?"
        click.echo(f"rules {active.rules.version} in force for {policy_id} "
                   f"(position #{position})")
    else:
        click.echo(f"rules {active.rules.version} already in force for {policy_id}: "
                   "nothing recorded")


@rules.command("show")
@_POLICY
@format_option()
@pass_ctx
def rules_show(ctx: Context, policy_id: str | None, fmt: Format) -> None:
    """The active rules: version, when and by which event they were set, terms per tier.

    \b
    Examples:
        tracker rules show
        tracker rules show --format json
    """
    from tracker import rules_log  # imported when used: `tracker --help` stays fast

    policy_id = rules_log.policy_or_only(ctx.tracker, policy_id)
    show(rules_log.rules_report(rules_log.active_rules(ctx.tracker, policy_id)), "rules", fmt)
