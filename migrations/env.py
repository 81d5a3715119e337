"""Alembic environment: always runs over the connection ``tracker.migrate`` hands it."""

from alembic import context

from tracker.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tracker db upgrade`, which supplies a connection")


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Tables owned by others (APScheduler's job store) are not ours to compare."""
    return not (type_ == "table" and name.startswith("apscheduler_"))


context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=include_object,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
