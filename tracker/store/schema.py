"""Table definitions. The schema is only ever created by the migrations; this metadata is what
Alembic's autogenerate compares against (a test checks they agree)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
})

Timestamp = sa.DateTime(timezone=True)

events = sa.Table(
    "events", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False, index=True),
    sa.Column("occurred_precision", sa.String(8), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False, index=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    sa.Index("ix_events_type_position", "type", "position"),
)

projection_checkpoints = sa.Table(
    "projection_checkpoints", metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

projection_rows = sa.Table(
    "projection_rows", metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("sort_key", sa.String(300), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("doc", sa.JSON, nullable=False),
    sa.Index("ix_projection_rows_sort", "projection", "sort_key"),
)

feed_state = sa.Table(
    "feed_state", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(100)),
    sa.Column("next_due_at", Timestamp),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_attempt_at", Timestamp),
    sa.Column("last_success_at", Timestamp),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", Timestamp),
    sa.Column("items_recorded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ttl_minutes", sa.Integer),
    sa.Column("lease_owner", sa.String(200)),
    sa.Column("lease_expires_at", Timestamp),
)

locks = sa.Table(
    "locks", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
)
