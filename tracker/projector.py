"""Keeps projections in database tables caught up with the log.

Each batch runs in one write transaction: read the checkpoint, read the events after it, fold
them, write the changed documents and the new checkpoint (the position of the last event
applied). A crash leaves the previous batch's checkpoint and rows intact, and concurrent
projectors serialize on the checkpoint row, so no event is applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.catalogue import RETRACTED
from tracker.dates import utc
from tracker.db import is_sqlite, retrying, write_connection
from tracker.errors import ProjectionAheadError
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projections.fold import apply_batch, finish, wanted_types
from tracker.store import EventStore
from tracker.store.codec import decode_object, load_json
from tracker.store.reads import fetch_rows
from tracker.store.schema import projection_checkpoints, projection_rows

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    position: int
    version: int


class Projector:
    def __init__(self, store: EventStore, projections: Mapping[str, Projection],
                 clock: Callable[[], Any]) -> None:
        self.store = store
        self.engine: Engine = store.engine
        self.projections = projections
        self.clock = clock

    def checkpoint(self, name: str) -> Checkpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(projection_checkpoints).where(
                projection_checkpoints.c.projection == name)).first()
        return Checkpoint(row.position, row.version) if row else None

    def catch_up(self, names: Iterable[str] | None = None, batch_size: int = 2000,
                 progress: Progress | None = None) -> dict[str, int]:
        """Apply every pending event to each named projection; returns their checkpoints.

        A stored projection built by an older ``version`` of its fold is rebuilt first. One
        whose checkpoint is past the log's end is refused (``ProjectionAheadError``): events
        were removed from the log, and until it is rebuilt it would show them and skip the
        events appended in their place.
        """
        result: dict[str, int] = {}
        head: int | None = None
        for name in names or self.projections:
            projection = self.projections[name]
            checkpoint = self.checkpoint(name)
            if checkpoint is not None and checkpoint.version != projection.version:
                self.reset(name)
                checkpoint = None
            if checkpoint is not None and (head is None or checkpoint.position > head):
                head = self.store.head()  # read after the checkpoint, so never behind it
                if checkpoint.position > head:
                    raise ProjectionAheadError(
                        f"projection {name} is at position {checkpoint.position}, past the end "
                        f"of the log ({head}): events were removed from the log; check it with "
                        "`tracker verify`, then rebuild the projections with `tracker replay`")
            while True:
                if checkpoint is not None and not self._has_pending(projection):
                    result[name] = self._position(name)
                    break
                applied, position = self._batch(projection, batch_size)
                result[name] = position
                if progress is not None and applied:
                    progress(applied)
                if applied < batch_size:
                    break
        return result

    def rebuild(self, names: Iterable[str] | None = None, batch_size: int = 2000,
                progress: Progress | None = None) -> dict[str, int]:
        selected = list(names or self.projections)
        for name in selected:
            self.reset(name)
        return self.catch_up(selected, batch_size, progress)

    def reset(self, name: str) -> None:
        """Drop a projection's rows and checkpoint (they are derived: the log rebuilds them)."""
        with write_connection(self.engine) as conn, conn.begin():
            conn.execute(projection_rows.delete().where(projection_rows.c.projection == name))
            conn.execute(projection_checkpoints.delete().where(
                projection_checkpoints.c.projection == name))

    def _position(self, name: str) -> int:
        checkpoint = self.checkpoint(name)
        return checkpoint.position if checkpoint else 0

    def _has_pending(self, projection: Projection) -> bool:
        """A read-only look first, so an up-to-date projection never takes the write lock."""
        return self.store.has_events_after(self._position(projection.name),
                                           wanted_types(projection))

    @retrying
    def _batch(self, projection: Projection, batch_size: int) -> tuple[int, int]:
        with write_connection(self.engine) as conn, conn.begin():
            position = self._lock_checkpoint(conn, projection)
            batch = self.store.page(after=position, types=wanted_types(projection),
                                    limit=batch_size, conn=conn)
            if not batch:
                return 0, position
            docs = self._preload(conn, projection, batch)
            known = {e.position: e for e in batch}

            def target_of(pos: int) -> RecordedEvent | None:
                return known.get(pos) or self.store.get(pos, conn=conn)

            def load(key: str) -> Doc | None:
                row = conn.execute(sa.select(projection_rows.c.doc).where(
                    projection_rows.c.projection == projection.name,
                    projection_rows.c.key == key)).first()
                return load_json(row.doc) if row else None

            sources = apply_batch(projection, docs, batch, load, target_of)
            dirty = set(sources)
            for key in dirty:
                docs[key] = finish(projection, docs[key])
            self._write(conn, projection, docs, dirty, sources)
            last = batch[-1].position
            conn.execute(projection_checkpoints.update().where(
                projection_checkpoints.c.projection == projection.name).values(
                position=last, updated_at=utc(self.clock())))
            return len(batch), last

    def _preload(self, conn: sa.Connection, projection: Projection,
                 batch: list[RecordedEvent]) -> dict[str, Doc | None]:
        """Fetch every document the batch touches in a few queries instead of one per key,
        through the DBAPI cursor, the stored JSON text decoded by the store's decoder."""
        keys: set[str] = set()
        for event in batch:
            if event.type != RETRACTED:
                keys.update(projection.keys(event))
        docs: dict[str, Doc | None] = dict.fromkeys(keys)
        docs.update(docs_by_key(conn, projection.name, keys))
        return docs

    def _lock_checkpoint(self, conn: sa.Connection, projection: Projection) -> int:
        """Read (creating if needed) and lock this projection's checkpoint row."""
        table = projection_checkpoints
        query = sa.select(table.c.position).where(table.c.projection == projection.name)
        if not is_sqlite(conn):
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is not None:
            return int(row.position)
        if is_sqlite(conn):
            conn.execute(table.insert().values(projection=projection.name, position=0,
                                               version=projection.version,
                                               updated_at=utc(self.clock())))
        else:
            from sqlalchemy.dialects.postgresql import insert
            conn.execute(insert(table).values(
                projection=projection.name, position=0, version=projection.version,
                updated_at=utc(self.clock())).on_conflict_do_nothing())
            row = conn.execute(query).first()
            assert row is not None
            return int(row.position)
        return 0

    def _write(self, conn: sa.Connection, projection: Projection,
               docs: Mapping[str, Doc | None], dirty: set[str], sources: Mapping[str, int]) -> None:
        if not dirty:
            return
        keys = sorted(dirty)
        conn.execute(projection_rows.delete().where(
            projection_rows.c.projection == projection.name, projection_rows.c.key.in_(keys)))
        rows = [{"projection": projection.name, "key": key,
                 "sort_key": projection.sort_key(key, doc), "position": sources[key], "doc": doc}
                for key in keys if (doc := docs[key]) is not None]
        if rows:
            conn.execute(projection_rows.insert(), rows)


def checkpoints(engine: Engine) -> dict[str, int]:
    """Every stored checkpoint's position, by projection name (``verify`` compares them with
    the log's end)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(projection_checkpoints.c.projection,
                                      projection_checkpoints.c.position)).all()
    return {row.projection: int(row.position) for row in rows}


def load_docs(engine: Engine, name: str, *, order_by_sort: bool = True,
              where: Any = None) -> list[tuple[str, Doc]]:
    """A projection's documents (those ``where`` selects), by key, in sort order unless told
    not to. The stored JSON is read as text and decoded by the store's decoder (SQLAlchemy's
    JSON type, and psycopg's, decode with the stdlib's, at twice the cost)."""
    query = sa.select(projection_rows.c.key, sa.cast(projection_rows.c.doc, sa.Text)).where(
        projection_rows.c.projection == name)
    if where is not None:
        query = query.where(where)
    if order_by_sort:
        query = query.order_by(projection_rows.c.sort_key)
    with engine.connect() as conn:
        return [(key, decode_object(text)) for key, text in conn.execute(query)]


def load_sort_keys(engine: Engine, name: str) -> list[tuple[str, str]]:
    """Every row's key and sort key in sort order, no document read: what a reader needs to
    pick the few documents it shows, and the order :func:`load_docs` gives them."""
    with engine.connect() as conn:
        mark = "?" if is_sqlite(conn) else "%s"
        return [(key, sort_key) for key, sort_key in fetch_rows(
            conn, f"SELECT key, sort_key FROM {projection_rows.name} WHERE projection = {mark} "
                  "ORDER BY sort_key", (name,))]


#: Keys asked for in one query (well under every backend's limit on bound parameters).
KEYS_PER_QUERY = 500


def load_docs_by_key(engine: Engine, name: str, keys: Iterable[str]) -> dict[str, Doc]:
    """The documents of ``keys`` (those that exist), by key: a reader's few documents without
    decoding the rest."""
    with engine.connect() as conn:
        return docs_by_key(conn, name, keys)


def docs_by_key(conn: sa.Connection, name: str, keys: Iterable[str]) -> dict[str, Doc]:
    """``load_docs_by_key`` on ``conn``: a few queries instead of one per key, through the
    DBAPI cursor, the stored JSON text decoded by the store's decoder."""
    wanted = sorted(set(keys))
    mark, doc = ("?", "doc") if is_sqlite(conn) else ("%s", "doc::text")
    docs: dict[str, Doc] = {}
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = wanted[start:start + KEYS_PER_QUERY]
        rows = fetch_rows(conn, f"SELECT key, {doc} FROM {projection_rows.name} "
                                f"WHERE projection = {mark} "
                                f"AND key IN ({', '.join([mark] * len(chunk))})", (name, *chunk))
        for key, text in rows:
            docs[key] = decode_object(text) if type(text) is str else load_json(text)
    return docs


def load_docs_between(engine: Engine, name: str, lower: str | None, upper: str | None, *,
                      reach: tuple[str, str, str] | None = None) -> list[tuple[str, Doc]]:
    """The rows whose sort key is from ``lower`` (None: the first) to before ``upper`` (None:
    the last), in sort order. With ``reach`` (an earlier sort key, a document field and a
    value), also the rows from that earlier key whose field is at least the value: those that
    start before ``lower`` but last into it."""
    sort_key = projection_rows.c.sort_key
    where: Any = sa.true() if lower is None else sort_key >= lower
    if lower is not None and reach is not None:
        earliest, field, least = reach
        where = sa.and_(sort_key >= earliest, sa.or_(where, sa.and_(
            sort_key < lower, projection_rows.c.doc[field].as_string() >= least)))
    if upper is not None:
        where = sa.and_(where, sort_key < upper)
    return load_docs(engine, name, where=where)


__all__ = ["Checkpoint", "Projector", "checkpoints", "load_docs", "load_docs_between",
           "load_docs_by_key", "load_sort_keys"]
