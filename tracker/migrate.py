"""Running Alembic programmatically, over one connection we hand it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from tracker.db import is_sqlite, write_connection
from tracker.errors import SchemaError
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
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after)."""
    with write_connection(engine) as conn, conn.begin():
        if not is_sqlite(conn):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        before = MigrationContext.configure(conn).get_current_revision()
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after or ""


def require_current(engine: Engine) -> None:
    """Refuse to work on a schema that is behind (or unknown to) this version of tracker."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    script = ScriptDirectory.from_config(_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise SchemaError(f"database is at revision {current}, unknown to this tracker "
                          f"(newest known: {head}); upgrade tracker")
    raise SchemaError(f"database schema is at revision {current or 'none'}, this tracker needs "
                      f"{head}: run `tracker db upgrade`")
