"""The command line: parse, call one application function, render.

This module holds what every command shares (the ``main`` group, the error handling, the
database context and the shared options); the commands live in one module per group.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import click
import sqlalchemy as sa

from tracker import app, render
from tracker import dossier as dossier_app
from tracker.config import database_url
from tracker.db import masked
from tracker.errors import EXIT_ERROR, EXIT_INTERRUPTED, TrackerError
from tracker.render import Format, Kind
from tracker.when import When, parse_when

_Command = TypeVar("_Command", bound=Callable[..., Any])


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
            _fail("interrupted", EXIT_INTERRUPTED)


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

    def when(self, text: str | None) -> When | None:
        """A WHEN option's value, relative forms (7d) counted back from the tracker's clock."""
        return parse_when(text, self.tracker.now()) if text is not None else None

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


def _on_new_database(tracker: app.Tracker) -> None:
    """A new database starts with the shipped dossiers and default feed subscriptions."""
    dossier_app.load_seeds(tracker)


pass_ctx = click.make_pass_decorator(Context)


def format_option(*choices: Format, default: Format = "text") -> Callable[[_Command], _Command]:
    """``--format``, offering ``choices``: formats tracker.render can render the command in."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default,
                        show_default=True)


def show(report: Any, kind: Kind, fmt: Format) -> None:
    """Print what a command read, rendered: every report and list goes through here."""
    click.echo(render.output(report, kind, fmt), nl=False)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
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


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (systemd, ``timeout``, ``kill``) interrupts as Ctrl-C does: the work in hand is
    handed back (an ingest releases its feed's lease) and the command exits as interrupted."""

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
        installed = True
    except ValueError:  # not the main thread (e.g. under a test runner): no handler
        installed = False
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


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


# The command modules attach their commands to ``main``, so they are imported once it exists.
from tracker.cli import (  # noqa: E402, F401
    alerts,
    claims,
    dossier,
    feeds,
    log,
    rules,
    sources,
    stories,
)
from tracker.cli import report as _report  # noqa: E402, F401
