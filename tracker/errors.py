"""Errors a user can act on, and the exit codes of every command, in one place.

The CLI prints an error's message on one line and exits with its ``exit_code``.
"""

from typing import Final

EXIT_OK: Final = 0
#: A failure the message explains (database unreachable, bad export file...).
EXIT_ERROR: Final = 1
#: Bad input on the command line (a WHEN value, an unknown position...).
EXIT_USAGE: Final = 2
#: A stream moved on since the writer read it.
EXIT_CONFLICT: Final = 3
#: The database schema is not at the revision this tracker needs.
EXIT_SCHEMA: Final = 4
#: ``tracker verify`` found the log broken: its hash chain, a saved head it no longer holds, or a
#: projection past its end.
EXIT_CHAIN_BROKEN: Final = 5
#: ``tracker ingest``: at least one feed failed (the others were ingested).
EXIT_SOME_FEEDS_FAILED: Final = 6
#: A projection is past the end of the log (events were removed): rebuild it before reading it.
EXIT_PROJECTION_AHEAD: Final = 7
#: The database schema is at a revision newer than this tracker knows: upgrade tracker.
EXIT_SCHEMA_NEWER: Final = 8
#: ``tracker alerts send``: at least one channel could not be delivered to (its changes stay
#: pending for the next run; the other channels were served).
EXIT_SOME_ALERTS_FAILED: Final = 9
#: The request conflicts with what the log already holds: a position already retracted, a
#: claim already decided, a story already merged, a channel name or a feed URL already in use.
#: Repeating the command will not help; ``EXIT_USAGE`` is only for bad input on the line.
EXIT_ALREADY: Final = 10
#: ``tracker feeds health --check``: at least one feed is failing, or stale (no successful
#: fetch within three times its interval).
EXIT_FEEDS_UNHEALTHY: Final = 11
#: The config file (``--config``, ``$TRACKER_CONFIG`` or ``tracker.toml`` in the user's config
#: directory) cannot be read or holds a bad value.
EXIT_CONFIG: Final = 12
#: Interrupted (Ctrl-C, SIGTERM).
EXIT_INTERRUPTED: Final = 130

#: Every exit status a command can end with, in order, and what it means: the ``tracker --help``
#: epilog is built from this and the README lists the same (tests/cli/test_exit_codes.py).
EXIT_CODES: Final[tuple[tuple[int, str], ...]] = (
    (EXIT_OK, "success"),
    (EXIT_ERROR, "an error the message explains (database unreachable, bad file...)"),
    (EXIT_USAGE, "bad input on the command line (an option, a WHEN, an unknown name)"),
    (EXIT_CONFLICT, "another writer moved the stream on meanwhile: run it again"),
    (EXIT_SCHEMA, "the database schema is behind: run `tracker db upgrade`"),
    (EXIT_CHAIN_BROKEN, "`verify`: the log is broken (hash chain, saved head, projections)"),
    (EXIT_SOME_FEEDS_FAILED, "`ingest`: a feed failed (the others were ingested)"),
    (EXIT_PROJECTION_AHEAD, "a projection is past the end of the log: run `tracker replay`"),
    (EXIT_SCHEMA_NEWER, "the database was migrated by a newer tracker: upgrade tracker"),
    (EXIT_SOME_ALERTS_FAILED, "`alerts send`: a channel could not be delivered to"),
    (EXIT_ALREADY, "already done or in use: retracted, decided, merged; a name or URL"),
    (EXIT_FEEDS_UNHEALTHY, "`feeds health --check`: a feed is failing or stale"),
    (EXIT_CONFIG, "the config file cannot be read or holds a bad value"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM)"),
)


class TrackerError(Exception):
    """Base class: ``str(error)`` is the one line shown to the user."""

    exit_code = EXIT_ERROR


class ConcurrencyError(TrackerError):
    """The stream moved on since the writer read it (optimistic concurrency)."""

    exit_code = EXIT_CONFLICT


class DuplicateEventError(TrackerError):
    """An event id was re-used for different content."""


class SchemaError(TrackerError):
    """The database schema is not at the revision this tracker needs."""

    exit_code = EXIT_SCHEMA


class SchemaNewerError(SchemaError):
    """The database was migrated by a newer tracker: this one must not read or upgrade it."""

    exit_code = EXIT_SCHEMA_NEWER


class ProjectionAheadError(TrackerError):
    """A projection's checkpoint is past the log's last event: shown as is, it would describe
    events the log no longer holds, and the events appended next would never reach it."""

    exit_code = EXIT_PROJECTION_AHEAD


class UsageError(TrackerError):
    """Bad input on the command line (a WHEN value, an unknown position...)."""

    exit_code = EXIT_USAGE


class AlreadyError(TrackerError):
    """The request conflicts with what the log already holds (already retracted, already
    decided, a name or URL in use): well-formed input that repeating will not make succeed."""

    exit_code = EXIT_ALREADY


class ConfigError(TrackerError):
    """The config file cannot be read or holds a bad value; the message names the file."""

    exit_code = EXIT_CONFIG
