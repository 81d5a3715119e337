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
#: ``tracker verify`` found the hash chain broken.
EXIT_CHAIN_BROKEN: Final = 5
#: ``tracker ingest``: at least one feed failed (the others were ingested).
EXIT_SOME_FEEDS_FAILED: Final = 6
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


class UsageError(TrackerError):
    """Bad input on the command line (a WHEN value, an unknown position...)."""

    exit_code = EXIT_USAGE
