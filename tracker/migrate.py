"""Running Alembic programmatically, over one connection we hand it."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from tracker.db import is_sqlite, write_connection
from tracker.errors import SchemaError, SchemaNewerError
from tracker.resources import migrations_dir

#: PostgreSQL advisory lock key held while migrating, so concurrent starters do not race.
MIGRATE_LOCK_KEY = 0x7472616D6967


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: sa.Connection) -> str | None:
    """The one revision the schema is stamped with; several (a hand-edited alembic_version)
    cannot be a schema this tracker made."""
    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) > 1:
        raise SchemaError(f"database schema is stamped with several revisions "
                          f"({', '.join(heads)}): not a schema this tracker made")
    return heads[0] if heads else None


def upgrade(engine: Engine, revision: str = "head",
            then: Callable[[sa.Connection], None] | None = None) -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after). ``then`` runs in the same
    transaction, after the migrations (a first use marks itself unfinished there)."""
    with write_connection(engine) as conn, conn.begin():
        if not is_sqlite(conn):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        before = _revision(conn)
        refuse_newer(before)
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        after = _revision(conn)
        if then is not None:
            then(conn)
    return before, after or ""


def is_known(revision: str | None) -> bool:
    """Whether ``revision`` is one of this tracker's migrations (None: no schema yet)."""
    if revision is None:
        return True
    script = ScriptDirectory.from_config(_config())
    return revision in {rev.revision for rev in script.walk_revisions()}


def refuse_newer(current: str | None) -> None:
    """A revision this tracker does not know was written by a newer one: reading or migrating
    that schema with older code would misread it, or fail inside Alembic."""
    if not is_known(current):
        raise SchemaNewerError(f"database schema is at revision {current}, newer than this "
                               f"tracker (newest known: {head_revision()}): upgrade tracker")


def require_current(engine: Engine) -> None:
    """Refuse to work on a schema that is behind (or unknown to) this version of tracker."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    refuse_newer(current)
    raise SchemaError(f"database schema is at revision {current or 'none'}, this tracker needs "
                      f"{head}: run `tracker db upgrade`")
