"""SQLite files the tracker may not write: a read-only file or directory, a copy on read-only
media, or a ``mode=ro`` URL. Read commands still work on them; nothing is written to the file.

The file is opened with ``mode=ro``, and ``immutable=1`` when its directory is read-only and
it has no write-ahead log (SQLite could not create the WAL index there, and no writer can be
at work). Reads write one thing, the projections they catch up, so each connection holds TEMP
copies of the projection tables: they shadow the stored ones, pending events are applied to
the copies in memory, and the stored rows stay as they were. A single connection is shared
(``StaticPool``), so every read sees the same copies.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from tracker.db import SQLITE_BUSY_TIMEOUT_MS
from tracker.errors import TrackerError
from tracker.events import canonical_json

#: The tables read commands write to (projections caught up on read); shadowed in TEMP.
SHADOWED = ("projection_checkpoints", "projection_rows")


def opens_read_only(url: str, path: Path) -> bool:
    """Whether the SQLite file at ``path`` is to be opened read-only; when not, its directory
    is made ready. A path the operating system refuses (too long, say) is one line."""
    try:
        if asks_read_only(url) or not can_write(path):
            return True
        ensure_directory(path)
    except OSError as exc:
        raise TrackerError(f"cannot use the database file {path}: {exc.strerror or exc}") from None
    return False


def asks_read_only(url: str) -> bool:
    """Whether the URL itself opens SQLite read-only (``?mode=ro&uri=true``)."""
    query = parse_qs(urlsplit(url).query)
    return "ro" in query.get("mode", []) and "true" in query.get("uri", [])


def can_write(path: Path) -> bool:
    """Whether this process may change the database at ``path``: the file (when it exists) and
    its directory, where SQLite keeps its journal or write-ahead log. ``os.access`` also reports
    a read-only file system, which even root cannot write."""
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return not path.parent.is_dir() or os.access(path.parent, os.W_OK)


def ensure_directory(path: Path) -> None:
    """Create the directory the database file goes in, or say in one line why not."""
    folder = path.parent
    if folder.is_dir():
        return
    if folder.exists():
        raise TrackerError(f"cannot create the data directory {folder}: a file is in the way")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackerError(f"cannot create the data directory {folder}: "
                           f"{exc.strerror or exc}") from None


def read_only_engine(path: Path) -> Engine:
    """An engine on the existing database at ``path`` that never writes to it."""
    if not path.is_file():
        raise TrackerError(f"no database at {path}, and none can be created: it is opened "
                           "read-only")
    immutable = not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

    engine = sa.create_engine("sqlite://", creator=connect, poolclass=StaticPool,
                              json_serializer=canonical_json)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA temp_store=MEMORY")  # the temp directory may be read-only too
        marks = ", ".join("?" * len(SHADOWED))
        tables = cursor.execute(f"SELECT name, sql FROM main.sqlite_master WHERE type = 'table' "
                                f"AND name IN ({marks})", SHADOWED).fetchall()
        for name, sql in tables:
            cursor.execute(sql.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
            cursor.execute(f'INSERT INTO temp."{name}" SELECT * FROM main."{name}"')
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # one shared connection: a connection opened while another is in a transaction joins it
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN")

    return engine
