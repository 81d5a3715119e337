"""Alembic migrations: the only way the schema is built (installed as ``tracker.migrations``)."""
