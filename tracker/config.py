"""Where the database lives: ``--database-url``, else ``TRACKER_DATABASE_URL``, else an SQLite
file in the user's data directory (XDG on Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

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
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None
