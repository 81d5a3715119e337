"""The command line: parse, call one application function, render.

This module holds what every command shares (the ``main`` group, the error handling, the
database context and the shared options); the commands live in one module per group.
"""

# ruff: noqa: E402 - the collector is paused (below) before anything else is imported
from __future__ import annotations

import gc

# Importing tracker, click and SQLAlchemy makes about 100,000 objects that live as long as the
# process; the cyclic garbage collector would walk them over and over, during the imports and
# again once the command runs (some 30 ms of a short command). It is paused while they are
# made, and they are frozen out of its reach at the end of this module.
_COLLECTING = gc.isenabled()
gc.disable()

import contextlib
import errno
import os
import select
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import tzinfo
from typing import Any, NoReturn, TypeVar

import click
import sqlalchemy as sa

from tracker import app, logconfig, render, zones
from tracker import dossier as dossier_app
from tracker import settings as settings_file
from tracker.cli.global_options import hoist
from tracker.db import masked
from tracker.errors import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, TrackerError, UsageError
from tracker.render import Format, Kind
from tracker.when import When, parse_when

_Command = TypeVar("_Command", bound=Callable[..., Any])


class TrackerGroup(click.Group):
    """Turns known failures into one line on stderr and a non-zero exit, never a traceback;
    reads the global options after the subcommand too (``tracker status --database-url
    URL``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist(self, args))

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
        except OSError as exc:  # BrokenPipeError included
            if exc.errno != errno.EPIPE or not _stdout_gone():
                raise
            _closed_pipe()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"tracker: {message}", err=True)
    sys.exit(code)


class Context:
    """Opens the database on first use, so `--help` and `db` commands never touch the schema."""

    def __init__(self, url: str, tz: str | None = None,
                 settings: settings_file.Settings | None = None) -> None:
        self.url = url
        #: Flags, environment and config file: every setting with where it came from.
        self.settings = settings if settings is not None else settings_file.current()
        #: ``--tz``, and the config file's ``tz`` (``zones.resolve_zone`` weighs them).
        self.tz = tz
        self.config_tz: str | None = None
        self._tracker: app.Tracker | None = None
        self._zone: tzinfo | None = None

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

    @property
    def zone(self) -> tzinfo:
        """The user's time zone: ``--tz``, ``TRACKER_TZ``, the config's ``tz``, the tracked
        dossiers' own ``timezone`` (read only once the database is open), else the system's."""
        if self._zone is None:
            chosen = zones.explicit_zone(self.tz, os.environ, self.config_tz)
            dossier = self._dossier_zone() if chosen is None else None
            self._zone = chosen or zones.resolve_zone(None, {}, None, dossier)
        return self._zone

    def _dossier_zone(self) -> str | None:
        if self._tracker is None:
            return None
        from tracker.catalogue import POLICY_TRACKED

        return zones.agreed_zone(event.data.get("timezone") for event in
                                 self._tracker.store.read(types=[POLICY_TRACKED]))

    def when(self, text: str | None) -> When | None:
        """A WHEN option's value, read in the user's zone, relative forms (7d) counted back
        from the tracker's clock."""
        if text is None:
            return None
        now = self.tracker.now()
        return parse_when(text, now, self.zone)

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


def _on_new_database(tracker: app.Tracker) -> None:
    """A new database starts with the shipped dossiers and default feed subscriptions."""
    dossier_app.load_seeds(tracker)


pass_ctx = click.make_pass_decorator(Context)


def format_option(*choices: Format, default: Format = "text",
                  stream: bool = False) -> Callable[[_Command], _Command]:
    """``--format``: the one option every command that prints a report or a list takes.
    Without ``choices``, every format tracker.render has for a report (text, json, markdown,
    csv), and JSON lines too for a ``stream`` of records (the log)."""
    offered = choices or (render.STREAM_FORMATS if stream else render.REPORT_FORMATS)
    names = [*offered]
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    documented = "csv" in offered  # the commands docs/json.md covers
    notes = [note for fmt, note in (("json", "JSON: docs/json.md" if documented else ""),
                                    ("csv", "CSV: a row per record"),
                                    ("jsonl", "jsonl: a JSON record per line"))
             if fmt in offered and note]
    return click.option("--format", "fmt", type=click.Choice(offered), default=default,
                        show_default=True, metavar="FORMAT",
                        help=f"Output format: {listed}"
                             + (f" ({'; '.join(notes)})" if notes else "") + ".")


def show(report: Any, kind: Kind, fmt: Format) -> None:
    """Print what a command read, rendered: every report and list goes through here. Text is
    laid out for where it goes: the terminal's width (COLUMNS wins), styled only on a
    terminal and without NO_COLOR; piped, it is plain. A stream kind (the log) is printed a
    page at a time as it is read."""
    layout = render.Layout()
    if fmt == "text":
        from tracker.render.terminal import layout_for

        layout = layout_for(sys.stdout)
    if kind in render.STREAMS:
        for chunk in render.stream(report, kind, fmt, layout):
            click.echo(chunk, nl=False)
    else:
        click.echo(render.output(report, kind, fmt, layout), nl=False)


def _stdout_gone() -> bool:
    """Whether standard output is a pipe (or socket) whose reader has gone: an EPIPE from
    anywhere else (a socket of our own) is a failure to report, not the end of a reader."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return True  # a stream with no descriptor (a test runner's): it is what raised
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return True
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poller.poll(0))


def _closed_pipe() -> NoReturn:
    """Standard output's reader went away (``tracker log | head``): stop quietly, exit 0.

    What is still buffered for the closed pipe is dropped, and the descriptor pointed at
    /dev/null, so the interpreter's last flush at exit does not fail again (the recipe in
    Python's documentation on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no descriptor (a test runner's stream)
        pass
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (kept until exit)
    sys.exit(0)


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


def _epilog() -> str:
    width = max(len(str(code)) for code, _ in EXIT_CODES)
    lines = [f"  {code:<{width}}  {meaning}" for code, meaning in EXIT_CODES]
    return ("Global options may also follow the command (tracker status --database-url URL). "
            "Each setting comes from its flag, else the environment, else the config file, "
            "else its default: `tracker config show` prints them with their sources.\n\n"
            "\b\nExit status:\n" + "\n".join(lines))


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=_epilog())
@click.option("--database-url", "database_url_opt", metavar="URL",
              help="sqlite:///path.db, postgresql://user@host/db, or a file path. Default: "
                   "$TRACKER_DATABASE_URL, else the config file's database_url, else "
                   "tracker.db in the user's data directory.")
@click.option("--config", "config_opt", metavar="PATH",
              help="The config file. Default: $TRACKER_CONFIG, else tracker.toml in the "
                   "user's config directory when there is one.")
@click.option("-v", "--verbose", count=True,
              help="Log to stderr, timestamped: -v progress (INFO), -vv everything (DEBUG). "
                   "Default: warnings only.")
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
@click.option("--tz", "tz", metavar="ZONE",
              help="Time zone to read dates in and show times in: an IANA name "
                   "(Asia/Hong_Kong), UTC or an offset (+08:00). Default: TRACKER_TZ, else "
                   "the dossiers' own zone, else the system's.")
@click.version_option(package_name="tracker")
@click.pass_context
def main(ctx: click.Context, database_url_opt: str | None, config_opt: str | None,
         verbose: int, quiet: bool, tz: str | None) -> None:
    """tracker: one record of what happened to a policy, where each fact came from, and what
    the state was on any date.

    WHEN (--since, --until, --as-of...) is an ISO date or time (2025-04-30, 2025-04, 2025,
    2025-04-30T12:00), now, today, yesterday, or a time ago (7d, 1d12h, 2w, 3 days ago);
    dates are read in the time zone (--tz). --since and --recorded-since start at the
    beginning of the period named; --until, --as-of and --world-as-of end at its end, never
    later than now. --since and --until are world time (when things happened or were
    published); --as-of and --recorded-since are log time (when the tracker recorded them).

    \b
    Example:
        tracker status
        tracker --tz Asia/Hong_Kong news --since yesterday
        tracker --database-url postgresql://localhost/tracker ingest
    """
    if verbose and quiet:
        raise UsageError("-v and -q contradict each other: give one")
    logconfig.configure(verbose, quiet)
    loaded = settings_file.load(config_opt, flags={"database_url": database_url_opt,
                                                   "tz": tz})
    ctx.with_resource(settings_file.active(loaded))
    ctx.obj = Context(loaded.database_url(), tz, loaded)
    ctx.obj.config_tz = loaded.file_value("tz")
    # a zone that does not exist: say so at once, naming where it was set
    zones.explicit_zone(tz, os.environ, ctx.obj.config_tz)
    ctx.with_resource(zones.showing(lambda: ctx.obj.zone))
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
from tracker.cli import config as _config  # noqa: E402, F401
from tracker.cli import report as _report  # noqa: E402, F401

gc.freeze()  # what importing made lives as long as the process: never walked again
if _COLLECTING:
    gc.enable()
