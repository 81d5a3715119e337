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
#: Interrupted (Ctrl-C).
EXIT_INTERRUPTED: Final = 130


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
