"""Running Alembic programmatically, over one connection we hand it.

Alembic is imported only to migrate (or to ask about a revision this tracker does not have):
it costs a command about 0.15 s. Every open checks the schema with one query of
``alembic_version`` against :data:`HEAD_REVISION`, which a test keeps equal to Alembic's head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.db import is_sqlite, write_connection
from tracker.errors import SchemaError, SchemaNewerError
from tracker.resources import migrations_dir

if TYPE_CHECKING:
    from alembic.config import Config

#: PostgreSQL advisory lock key held while migrating, so concurrent starters do not race.
MIGRATE_LOCK_KEY = 0x7472616D6967
#: The newest revision in ``migrations/versions`` (tests/store/test_migrate_head.py checks it
#: against Alembic's own head): what a ready database is stamped with.
HEAD_REVISION: Final = "0003"
_VERSION_QUERY: Final = sa.text("SELECT version_num FROM alembic_version")


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def alembic_head() -> str:
    """The head of the migrations directory, as Alembic reads it (slow: imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def head_revision() -> str:
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The revision the schema is stamped with (None: no schema yet), in one query."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(_VERSION_QUERY).scalars().all()
        except sa.exc.DBAPIError:
            conn.rollback()
            if sa.inspect(conn).has_table("alembic_version"):
                raise  # the table is there: the failure is the database's, not a new schema
            return None
    return _one([str(row) for row in rows])


def _one(heads: list[str]) -> str | None:
    """The one revision the schema is stamped with; several (a hand-edited alembic_version)
    cannot be a schema this tracker made."""
    if len(heads) > 1:
        raise SchemaError(f"database schema is stamped with several revisions "
                          f"({', '.join(heads)}): not a schema this tracker made")
    return heads[0] if heads else None


def _revision(conn: sa.Connection) -> str | None:
    """The revision on a connection inside a transaction (Alembic's reading: no failed
    statement for a missing table)."""
    from alembic.runtime.migration import MigrationContext

    return _one(list(MigrationContext.configure(conn).get_current_heads()))


def upgrade(engine: Engine, revision: str = "head",
            then: Callable[[sa.Connection], None] | None = None) -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after). ``then`` runs in the same
    transaction, after the migrations (a first use marks itself unfinished there)."""
    from alembic import command

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
    if revision is None or revision == HEAD_REVISION:
        return True
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return revision in {rev.revision for rev in script.walk_revisions()}


def refuse_newer(current: str | None) -> None:
    """A revision this tracker does not know was written by a newer one: reading or migrating
    that schema with older code would misread it, or fail inside Alembic."""
    if not is_known(current):
        raise SchemaNewerError(f"database schema is at revision {current}, newer than this "
                               f"tracker (newest known: {HEAD_REVISION}): upgrade tracker")


def check_current(current: str | None) -> None:
    """Refuse a schema at ``current`` when it is behind (or unknown to) this tracker."""
    if current == HEAD_REVISION:
        return
    refuse_newer(current)
    raise SchemaError(f"database schema is at revision {current or 'none'}, this tracker needs "
                      f"{HEAD_REVISION}: run `tracker db upgrade`")


def require_current(engine: Engine) -> None:
    """Refuse to work on a schema that is behind (or unknown to) this version of tracker."""
    check_current(current_revision(engine))
