"""Errors a user can act on: the CLI prints their message on one line and exits non-zero."""


class TrackerError(Exception):
    """Base class: ``str(error)`` is the one line shown to the user."""

    exit_code = 1


class ConcurrencyError(TrackerError):
    """The stream moved on since the writer read it (optimistic concurrency)."""

    exit_code = 3


class DuplicateEventError(TrackerError):
    """An event id was re-used for different content."""


class SchemaError(TrackerError):
    """The database schema is not at the revision this tracker needs."""

    exit_code = 4


class UsageError(TrackerError):
    """Bad input on the command line (a WHEN value, an unknown position...)."""

    exit_code = 2
