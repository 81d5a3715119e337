"""Commands on claims: review what news says, and accept or reject it as an analyst."""

from __future__ import annotations

import click

from tracker import review
from tracker.claims import STATES
from tracker.cli import Context, format_option, main, pass_ctx, show
from tracker.render import Format
from tracker.render.claims import value_text


@main.group("claims", invoke_without_command=True)
@click.option("--state", type=click.Choice([*STATES, "all"]), default="pending",
              show_default=True, help="Only claims in this state.")
@click.option("--policy", "policy_id", metavar="ID", help="Only this policy's claims.")
@click.option("--as-of", "as_of", metavar="WHEN",
              help="Log time: as the log knew them by the end of WHEN.")
@format_option()
@click.pass_context
def claims(click_ctx: click.Context, state: str, policy_id: str | None, as_of: str | None,
           fmt: Format) -> None:
    """Claims from the news, with their sources and what decided them.

    A claim is accepted (it sets the state) when an official source states it, when
    independent sources of tier press or better agree, or when an analyst accepts it;
    a claim that contradicts the accepted value for the same date is a conflict.

    \b
    Examples:
        tracker claims
        tracker claims --state conflict --format json
        tracker claims accept 91a21dc7 --note "matches the government's press release"
        tracker claims reject 8f4cb705 --reason "single unrated source; others say 20 firms"
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    report = review.list_claims(ctx.tracker, state=state, policy=policy_id,
                                as_of=ctx.when(as_of))
    show(report, "claims", fmt)


@claims.command("accept")
@click.argument("claim_id")
@click.option("--note", help="Why (kept with the decision).")
@pass_ctx
def accept(ctx: Context, claim_id: str, note: str | None) -> None:
    """Accept a claim as an analyst: it may now set the state.

    CLAIM_ID is the id `tracker claims` shows, or a unique prefix of it.

    \b
    Example:
        tracker claims accept ea5e1c78 --note "confirmed by the bureau"
    """
    claim, event = review.record_decision(ctx.tracker, claim_id, "accepted", note)
    click.echo(f"accepted claim {claim['id'][:8]} ({claim['slot']} = "
               f"{value_text(claim['value'])}) at position {event.position}")


@claims.command("reject")
@click.argument("claim_id")
@click.option("--reason", required=True, help="Why the claim is rejected.")
@pass_ctx
def reject(ctx: Context, claim_id: str, reason: str) -> None:
    """Reject a claim as an analyst: it never sets the state (it stays listed).

    \b
    Example:
        tracker claims reject 8f4cb705 --reason "rumour; denied by the government"
    """
    claim, event = review.record_decision(ctx.tracker, claim_id, "rejected", reason)
    click.echo(f"rejected claim {claim['id'][:8]} ({claim['slot']} = "
               f"{value_text(claim['value'])}) at position {event.position}")
