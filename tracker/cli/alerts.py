"""Commands on alerts: channels (events in the log) and delivering what changed."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from tracker import lazy
from tracker.alerts.changes import KINDS
from tracker.alerts.outbox import CHANNEL_KINDS, EMAIL, WEBHOOK
from tracker.alerts.settings import (
    DEFAULT_MIN_SCORE,
    DEFAULT_PASSWORD_ENV,
    ENV_ATTEMPTS,
    ENV_MIN_SCORE,
    ENV_SMTP_FROM,
    ENV_SMTP_HOST,
    ENV_SMTP_PASSWORD_ENV,
    ENV_SMTP_PORT,
    ENV_SMTP_USER,
    AlertSettings,
)
from tracker.cli import Context, format_option, main, pass_ctx, show
from tracker.errors import TrackerError
from tracker.render import Format

if TYPE_CHECKING:
    from tracker.alerts import channels, service
    from tracker.alerts.channels import Senders
else:  # imported when used: other commands start without httpx and smtplib
    channels = lazy.module("tracker.alerts.channels")
    service = lazy.module("tracker.alerts.service")


def _echo(text: str) -> None:
    click.echo(text, nl=False)


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def smtp_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The SMTP settings email channels use, each also read from the environment, else from
    the config file's [smtp] table (tracker config show)."""
    options = [
        click.option("--smtp-host", envvar=ENV_SMTP_HOST, metavar="HOST",
                     help=f"SMTP server for email channels (${ENV_SMTP_HOST}, else the "
                          "config file's [smtp] host, port, user, password_env, from, "
                          "starttls; default localhost)."),
        click.option("--smtp-port", envvar=ENV_SMTP_PORT, type=click.IntRange(1, 65535),
                     metavar="PORT", help=f"Its port (${ENV_SMTP_PORT}; default 25)."),
        click.option("--smtp-user", envvar=ENV_SMTP_USER, metavar="USER",
                     help=f"Log in as USER, only over STARTTLS (${ENV_SMTP_USER})."),
        click.option("--smtp-password-env", envvar=ENV_SMTP_PASSWORD_ENV, metavar="VAR",
                     help=f"The environment variable holding the password "
                          f"(${ENV_SMTP_PASSWORD_ENV}; default {DEFAULT_PASSWORD_ENV})."),
        click.option("--smtp-from", envvar=ENV_SMTP_FROM, metavar="ADDRESS",
                     help=f"The From address (${ENV_SMTP_FROM}; default tracker@localhost)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _settings(**options: Any) -> AlertSettings:
    return AlertSettings.from_env(**options)


def _senders(ctx: Context, settings: AlertSettings) -> Senders:
    return channels.Senders.default(settings, ctx.tracker.clock, _echo, os.environ)


@main.group()
def alerts() -> None:
    """Alert channels (events in the log) and delivering each change of accepted state to
    each channel once: a signed webhook, an email, or a digest on stdout for cron to mail.

    `tracker ingest` sends what is pending at its end; `tracker schedule` sends every
    minute. See docs/alerts.md for the payload and how to verify its signature.

    \b
    Example:
        tracker alerts add ops https://hooks.example.org/tracker --secret-env TRACKER_HOOK_SECRET
    """


@alerts.command("add")
@click.argument("name")
@click.argument("target", metavar="URL|mailto:ADDRESS|digest")
@click.option("--on", "on", multiple=True, metavar="WHAT",
              help=f"Which changes (repeatable or comma-separated): all (the default), "
                   f"{', '.join(KINDS)}; docs/alerts.md says what each means.")
@click.option("--policy", "policy_id", metavar="ID", help="Only this policy's changes.")
@click.option("--secret-env", metavar="VAR",
              help="Sign webhook bodies with the secret in environment variable VAR (the "
                   "name is logged, never the secret).")
@click.option("--allow-private", is_flag=True,
              help="Let a webhook reach internal network addresses (loopback, private, "
                   "link-local...); refused otherwise, at every delivery.")
@click.option("--min-score", type=float, metavar="N",
              help=f"story.new only for stories scoring at least N (default ${ENV_MIN_SCORE}, "
                   f"else {DEFAULT_MIN_SCORE:g}).")
@pass_ctx
def alerts_add(ctx: Context, name: str, target: str, on: tuple[str, ...],
               policy_id: str | None, secret_env: str | None, allow_private: bool,
               min_score: float | None) -> None:
    """Add a channel. It receives the changes made after it was added, never the history
    before (the log position it starts from is recorded with it).

    \b
    Examples:
        tracker alerts add ops https://hooks.example.org/tracker --secret-env TRACKER_HOOK_SECRET
        tracker alerts add analysts mailto:analysts@example.org --on fact.disputed,claim.pending
        tracker alerts add daily digest --policy hk-zhejiang-supply-chain
        tracker alerts add intranet http://alerts.corp.internal/hook --allow-private
    """
    channel = service.add_channel(ctx.tracker, name, target, on=on, policy_id=policy_id,
                                  secret_env=secret_env, allow_private=allow_private,
                                  min_score=min_score)
    kinds = "all changes" if channel.on == KINDS else ", ".join(channel.on)
    click.echo(f"alerting {channel.name}: {channel.kind} {channel.target} on {kinds}, after "
               f"position {channel.since}")


@alerts.command("list")
@format_option()
@pass_ctx
def alerts_list(ctx: Context, fmt: Format) -> None:
    """The channels, with what each received, what waits for it and its last failure.

    \b
    Examples:
        tracker alerts list
        tracker alerts list --format json
    """
    show(service.list_channels(ctx.tracker, _settings()), "alerts", fmt)


@alerts.command("remove")
@click.argument("name")
@pass_ctx
def alerts_remove(ctx: Context, name: str) -> None:
    """Stop delivering to a channel (what it received stays in the log).

    \b
    Examples:
        tracker alerts add ops https://hooks.example.org/tracker
        tracker alerts remove ops
    """
    service.remove_channel(ctx.tracker, name)
    click.echo(f"no longer alerting {name}")


@alerts.command("test")
@click.argument("name")
@format_option("text", "json")
@smtp_options
@pass_ctx
def alerts_test(ctx: Context, name: str, fmt: Format, **smtp: Any) -> None:
    """Send a test notification to a channel now (one attempt; nothing is recorded). Its
    payload says "test": true.

    \b
    Examples:
        tracker alerts test ops
        tracker alerts test analysts --smtp-host smtp.example.org --smtp-port 587
    """
    settings = _settings(**smtp)
    senders = _senders(ctx, settings)
    try:
        response = service.send_test(ctx.tracker, name, senders)
    finally:
        senders.close()
    if fmt == "json":
        _json({"name": name, "sent": True, "response": response})
    else:
        click.echo(f"test alert sent to {name}: {response}")


@alerts.command("send")
@click.option("--channel", "names", multiple=True, metavar="NAME",
              help="Only this channel (repeatable).")
@click.option("--attempts", type=click.IntRange(1, 20), envvar=ENV_ATTEMPTS, metavar="N",
              help=f"Attempts per change before it is recorded as failed for this run "
                   f"(${ENV_ATTEMPTS}; default 5).")
@format_option("text", "json")
@smtp_options
@pass_ctx
def alerts_send(ctx: Context, names: tuple[str, ...], attempts: int | None, fmt: Format,
                **smtp: Any) -> None:
    """Deliver what is pending, oldest first: each change once to each channel, retried with
    backoff; a receiver still failing is recorded (alert.failed) and tried again next run.

    Digest channels print here, on stdout (with --format json, in the report's "digest").
    Exit status: 0 when every channel was served, 9 when at least one failed.

    \b
    Examples:
        tracker alerts send
        tracker alerts add daily digest
        tracker alerts send --channel daily | mail -s "tracker digest" analysts@example.org
    """
    settings = _settings(attempts=attempts, **smtp)
    printed: list[str] = []  # with --format json digests go in the report: stdout is JSON
    senders = channels.Senders.default(settings, ctx.tracker.clock,
                                       printed.append if fmt == "json" else _echo, os.environ)
    try:
        summary = service.send(ctx.tracker, settings, senders, names=names or None)
    finally:
        senders.close()
    if fmt == "json":
        _json({**summary.report(), "digest": "".join(printed)})
    else:
        for outcome in summary.outcomes:
            click.echo(outcome.line(), err=outcome.error is not None)
        click.echo(summary.line())
    sys.exit(summary.exit_code)


#: Attempts per change when ``tracker ingest`` sends at its end.
INGEST_ATTEMPTS = 2


def send_after_ingest(ctx: Context, fmt: str) -> None:
    """``tracker ingest``'s last step: deliver what is pending. It never fails the ingest:
    any failure is one line on stderr. At most ``INGEST_ATTEMPTS`` tries per change, so a
    receiver that is down does not hold the ingest up; the next run tries again. With
    ``--format json`` digests wait for ``alerts send`` (stdout holds the JSON)."""
    kinds = CHANNEL_KINDS if fmt == "text" else (WEBHOOK, EMAIL)
    try:
        settings = _settings()
        settings = replace(settings, attempts=min(settings.attempts, INGEST_ATTEMPTS))
        if not service.channels_in_use(ctx.tracker):
            return
        senders = _senders(ctx, settings)
        try:
            summary = service.send(ctx.tracker, settings, senders, kinds=kinds)
        finally:
            senders.close()
    except TrackerError as exc:
        click.echo(f"tracker: alerts not sent: {exc}", err=True)
        return
    except Exception as exc:  # noqa: BLE001  (delivery must never fail an ingest)
        first = str(exc).strip().splitlines()
        click.echo(f"tracker: alerts not sent: {type(exc).__name__}: "
                   f"{first[0] if first else ''}", err=True)
        return
    if summary.delivered or summary.failed:
        click.echo(summary.line(), err=True)
