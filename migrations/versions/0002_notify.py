"""NOTIFY tracker_events after each insert into the log (PostgreSQL only).

Followers LISTEN on the channel so they wake as soon as events commit instead of polling. The
trigger is per statement and the payload empty: PostgreSQL folds identical notifications within
a transaction into one, so an append costs one notification however many events it holds.
SQLite has no equivalent; followers there poll.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "tracker_events"


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    op.execute(f"""CREATE FUNCTION tracker_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         PERFORM pg_notify('{CHANNEL}', '');
         RETURN NULL;
       END $$""")
    op.execute("""CREATE TRIGGER events_notify AFTER INSERT ON events
       FOR EACH STATEMENT EXECUTE FUNCTION tracker_events_notify()""")


def downgrade() -> None:
    if not _postgres():
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS tracker_events_notify()")
