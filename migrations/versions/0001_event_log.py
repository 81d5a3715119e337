"""The event log, projection tables and operational tables; append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

SQLITE_TRIGGERS = [
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events is append-only: DELETE refused'); END""",
]

PG_TRIGGERS = [
    """CREATE FUNCTION tracker_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'events is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION tracker_events_append_only()""",
    """CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
       FOR EACH STATEMENT EXECUTE FUNCTION tracker_events_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("occurred_precision", sa.String(8), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
        sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    )
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_index("ix_events_recorded_at", "events", ["recorded_at"])

    op.create_table(
        "projection_checkpoints",
        sa.Column("projection", sa.String(100), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("projection", name="pk_projection_checkpoints"),
    )
    op.create_table(
        "projection_rows",
        sa.Column("projection", sa.String(100), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("sort_key", sa.String(300), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("doc", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("projection", "key", name="pk_projection_rows"),
    )
    op.create_index("ix_projection_rows_sort", "projection_rows", ["projection", "sort_key"])

    op.create_table(
        "feed_state",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("etag", sa.String(500)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("next_due_at", Timestamp),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_attempt_at", Timestamp),
        sa.Column("last_success_at", Timestamp),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", Timestamp),
        sa.Column("items_recorded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", Timestamp),
        sa.PrimaryKeyConstraint("name", name="pk_feed_state"),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_locks"),
    )

    statements = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else PG_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_no_update_delete ON events")
        op.execute("DROP FUNCTION IF EXISTS tracker_events_append_only()")
    for table in ("locks", "feed_state", "projection_rows", "projection_checkpoints", "events"):
        op.drop_table(table)
