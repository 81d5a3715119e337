"""Where the database lives: ``--database-url``, else ``TRACKER_DATABASE_URL``, else the config
file's ``database_url`` (:mod:`tracker.settings` resolves the three), else an SQLite file in the
user's data directory (XDG on Linux); how long a feed's lease holds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

import platformdirs

from tracker.errors import UsageError
from tracker.when import DurationError, duration_seconds

ENV_URL = "TRACKER_DATABASE_URL"


def default_database_path() -> Path:
    return Path(platformdirs.user_data_dir("tracker", appauthor=False)) / "tracker.db"


def database_url(option: str | None = None, environ: dict[str, str] | None = None) -> str:
    """Resolve the database URL; a bare filesystem path means an SQLite file."""
    env = os.environ if environ is None else environ
    value = option or env.get(ENV_URL) or str(default_database_path())
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    return value


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names (None for other databases or in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path, _, query = url.removeprefix("sqlite:///").partition("?")
    if path.startswith("file:") and "uri=true" in query.lower().split("&"):
        path = unquote(path.removeprefix("file:"))  # an SQLite URI filename
        path = path.removeprefix("//") if path.startswith("///") else path
        if "mode=memory" in query.lower().split("&"):
            return None
    return Path(path) if path and path != ":memory:" else None


ENV_LEASE = "TRACKER_LEASE_SECONDS"
#: How long a feed's lease holds unless renewed: what a worker killed outright (SIGKILL, a lost
#: machine) costs its feeds. A live worker renews its lease every third of this while it works,
#: so a slow feed never outlasts it.
DEFAULT_LEASE_SECONDS = 120
MIN_LEASE_SECONDS = 10
MAX_LEASE_SECONDS = 3600


def lease_seconds(option: str | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The feed lease: ``--lease``, else ``TRACKER_LEASE_SECONDS``, else two minutes.

    Whole seconds (``90``, ``90s``) or minutes (``2m``), from 10 s to an hour: a bare number
    is seconds, anything else a duration as :func:`tracker.when.duration_seconds` reads it.
    """
    env = os.environ if environ is None else environ
    text = option if option is not None else env.get(ENV_LEASE)
    if text is None or not text.strip():
        return DEFAULT_LEASE_SECONDS
    source = "--lease" if option is not None else ENV_LEASE
    stripped = text.strip()
    try:
        seconds: int | None = duration_seconds(stripped + "s" if stripped.isdecimal() else stripped)
    except DurationError:
        seconds = None
    if seconds is None or not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
        raise UsageError(f"{source} {text!r}: give seconds (90, 90s) or minutes (2m), "
                         f"from {MIN_LEASE_SECONDS}s to {MAX_LEASE_SECONDS // 60}m")
    return seconds
