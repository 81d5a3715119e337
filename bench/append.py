"""Append throughput: tracker's EventStore against raw driver inserts of the very same rows.

Each measurement runs on a fresh database migrated by tracker itself (an SQLite file in a
temporary directory; on PostgreSQL a fresh schema in the given database, dropped afterwards).
The raw baselines insert the rows tracker stored -- every column, the same JSON text and hash
strings -- into an identically migrated table, with the same transaction sizes, so the ratio
isolates what the store adds: locking, the idempotency and version checks, the hash chain and
SQLAlchemy.

    python bench/append.py [--backends sqlite,postgres] [--events N] [--single-events N]
                           [--pg-url URL] [--repeat R] [--json PATH]

The measuring functions are importable (``measure_append``, ``measure_raw_sqlite``,
``measure_raw_psycopg``, ``run_backend``) so other benchmarks can reuse them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.app import open_tracker  # noqa: E402
from tracker.db import SQLITE_BUSY_TIMEOUT_MS, make_engine  # noqa: E402
from tracker.events import NewEvent, deterministic_id  # noqa: E402

DEFAULT_PG_URL = os.environ.get("TRACKER_TEST_PG_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BATCH = 1000
STREAMS = 1000

COLUMNS = ("position", "event_id", "stream_id", "stream_version", "type", "schema_version",
           "occurred_at", "occurred_precision", "recorded_at", "data", "meta", "prev_hash",
           "hash")

Row = tuple[Any, ...]
Plan = list[tuple[str, list[NewEvent]]]

_WORDS = ("tariff", "export", "controls", "agreement", "forum", "minister", "projects", "trade",
          "sectors", "investment", "delegation", "signed", "review", "announced", "phase")


# -- the workload ----------------------------------------------------------------------------

def make_event(n: int) -> NewEvent:
    """One feed item as ingest records it: about 300 bytes of data, a source citation in meta."""
    feed = f"feed-{n % 40:02d}"
    item_key = f"guid:{feed}/{n:08d}"
    words = [_WORDS[(n * 7 + i * 3) % len(_WORDS)] for i in range(9)]
    published = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=17 * n)
    fetched = published + timedelta(minutes=5)
    data = {
        "feed": feed,
        "item_key": item_key,
        "title": " ".join(words[:5]).capitalize(),
        "link": f"https://news.example.org/{n:08d}",
        "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": " ".join(words).capitalize() + ".",
        "content_hash": uuid.uuid5(uuid.NAMESPACE_URL, item_key).hex,
    }
    meta = {"source": {"id": feed, "url": f"https://news.example.org/{feed}/rss",
                       "retrieved_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    return NewEvent("item.recorded", data, published, "instant", meta,
                    deterministic_id(feed, item_key))


def make_plan(events: int, batch: int, streams: int = STREAMS) -> Plan:
    """``events`` events cut into appends of ``batch``; append k goes to stream k mod ``streams``.

    Built before timing starts: constructing events is the caller's cost, not the store's.
    """
    everything = [make_event(n) for n in range(events)]
    return [(f"story-{(k // batch) % streams:04d}", everything[k:k + batch])
            for k in range(0, events, batch)]


# -- fresh databases -------------------------------------------------------------------------

@contextmanager
def fresh_database(backend: str, pg_url: str = DEFAULT_PG_URL) -> Iterator[str]:
    """The URL of an empty database: an SQLite file in a temp dir, or a new PostgreSQL schema."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}: use sqlite or postgres")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg_url else "?"
        try:
            yield f"{pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def migrate_only(url: str) -> None:
    """Create tracker's schema at ``url`` and let go of the connections."""
    open_tracker(url).close()


def sqlite_path(url: str) -> str:
    database = sa.engine.make_url(url).database
    if not database:
        raise ValueError(f"{url} names no SQLite file")
    return database


def psycopg_conninfo(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq URI (psycopg does not accept the ``+driver``)."""
    parsed = sa.engine.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


# -- measurements ----------------------------------------------------------------------------

@contextmanager
def _input_frozen() -> Iterator[None]:
    """Keep the prepared input out of the garbage collector's full passes while timing.

    Otherwise every full collection walks the whole pre-built workload (100,000 events and their
    dicts), a cost of holding the benchmark's input, not of appending. Both sides get the same.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _result(kind: str, events: int, batch: int, seconds: float) -> dict[str, Any]:
    return {"kind": kind, "events": events, "batch": batch, "seconds": round(seconds, 4),
            "events_per_s": round(events / seconds, 1) if seconds > 0 else None}


def measure_append(url: str, events: int, batch: int, streams: int = STREAMS) -> dict[str, Any]:
    """Time ``EventStore.append_positions`` (``append`` without building the events it returns,
    which ingest and this loop discard) of ``events`` events, ``batch`` per call, at ``url``."""
    plan = make_plan(events, batch, streams)
    tracker = open_tracker(url)
    try:
        store = tracker.store
        append = getattr(store, "append_positions", store.append)  # (an older checkout's)
        with _input_frozen():
            start = time.perf_counter()
            for stream_id, chunk in plan:
                append(stream_id, chunk)
            seconds = time.perf_counter() - start
    finally:
        tracker.close()
    return _result("tracker", events, batch, seconds)


def stored_rows(url: str) -> list[Row]:
    """Every events row as stored (JSON as its text), in position order: the baseline's input."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as db:
            return list(db.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY position"))
    import psycopg

    columns = ", ".join(f"{c}::text" if c in ("data", "meta") else c for c in COLUMNS)
    with psycopg.connect(psycopg_conninfo(url)) as db:
        return list(db.execute(f"SELECT {columns} FROM events ORDER BY position"))


def _chunks(rows: Sequence[Row], batch: int) -> list[Sequence[Row]]:
    return [rows[k:k + batch] for k in range(0, len(rows), batch)]


def measure_raw_sqlite(url: str, rows: Sequence[Row], batch: int) -> dict[str, Any]:
    """Insert ``rows`` through the stdlib sqlite3 module into a tracker-migrated file at ``url``.

    Same pragmas as tracker's engine (WAL, synchronous=NORMAL, busy timeout, foreign keys) and
    the same transactions (BEGIN IMMEDIATE, ``batch`` rows, COMMIT).
    """
    migrate_only(url)
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    db = sqlite3.connect(sqlite_path(url), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        chunks = _chunks(rows, batch)
        with _input_frozen():
            start = time.perf_counter()
            for chunk in chunks:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(sql, chunk)
                db.execute("COMMIT")
            seconds = time.perf_counter() - start
    finally:
        db.close()
    return _result("raw sqlite3", len(rows), batch, seconds)


def measure_raw_psycopg(url: str, rows: Sequence[Row], batch: int) -> dict[str, Any]:
    """Insert ``rows`` with psycopg ``executemany`` into a tracker-migrated schema at ``url``."""
    import psycopg

    migrate_only(url)
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    chunks = _chunks(rows, batch)
    with psycopg.connect(psycopg_conninfo(url)) as db, _input_frozen():
        start = time.perf_counter()
        for chunk in chunks:
            with db.transaction(), db.cursor() as cursor:
                cursor.executemany(sql, chunk)
        seconds = time.perf_counter() - start
    return _result("raw psycopg", len(rows), batch, seconds)


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run of the repeats (the lower middle one of an even number): one disturbed
    run, on a machine shared with other work, moves it less than it moves the best or mean."""
    ordered = sorted(results, key=lambda r: r["seconds"])
    middle = ordered[(len(ordered) - 1) // 2]
    return {**middle, "repeats": len(results),
            "all_events_per_s": [r["events_per_s"] for r in results]}


def run_backend(backend: str, *, events: int, single_events: int, repeat: int = 3,
                pg_url: str = DEFAULT_PG_URL, streams: int = STREAMS) -> list[dict[str, Any]]:
    """Batched and single-event appends on ``backend``, each next to its raw-driver baseline.

    Tracker and baseline runs alternate within each repeat so background load hits both alike;
    each figure is the median of its ``repeat`` runs, the ratio that of the two medians.
    """
    out: list[dict[str, Any]] = []
    for mode, count, batch in (("batched", events, BATCH), ("single", single_events, 1)):
        if count <= 0:
            continue
        runs: dict[str, list[dict[str, Any]]] = {}
        for _ in range(repeat):
            with fresh_database(backend, pg_url) as url:
                runs.setdefault("tracker", []).append(measure_append(url, count, batch, streams))
                rows = stored_rows(url)
            if len(rows) != count:
                raise RuntimeError(f"{backend}: expected {count} rows, found {len(rows)}")
            with fresh_database(backend, pg_url) as url:
                if backend == "sqlite":
                    runs.setdefault("raw sqlite3", []).append(
                        measure_raw_sqlite(url, rows, batch))
                else:
                    runs.setdefault("raw psycopg", []).append(
                        measure_raw_psycopg(url, rows, batch))
        tracker = _median(runs.pop("tracker"))
        for name, results in runs.items():
            baseline = _median(results)
            out.append({
                "backend": backend, "mode": mode, "events": count, "batch": batch,
                "tracker_events_per_s": tracker["events_per_s"],
                "tracker_all_events_per_s": tracker["all_events_per_s"],
                "baseline": name,
                "baseline_events_per_s": baseline["events_per_s"],
                "baseline_all_events_per_s": baseline["all_events_per_s"],
                "ratio": round(baseline["seconds"] / tracker["seconds"], 3),
                "repeats": repeat,
            })
    return out


# -- reporting -------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "sqlalchemy": sa.__version__, "cpus": os.cpu_count(), "platform": platform.platform(),
            "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def postgres_version(pg_url: str) -> str | None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def table(results: Sequence[dict[str, Any]]) -> str:
    header = ("backend", "mode", "events", "per txn", "tracker ev/s", "baseline",
              "baseline ev/s", "ratio")
    lines = [(r["backend"], r["mode"], f"{r['events']:,}", str(r["batch"]),
              f"{r['tracker_events_per_s']:,.0f}", r["baseline"],
              f"{r['baseline_events_per_s']:,.0f}", f"{r['ratio']:.2f}x") for r in results]
    return markdown_table(header, lines, right={2, 3, 4, 6, 7})


def markdown_table(header: Sequence[str], lines: Sequence[Sequence[str]],
                   right: set[int]) -> str:
    """An aligned Markdown table; columns in ``right`` are right-aligned (numbers)."""
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("--events", type=int, default=100_000,
                        help=f"events for the batched run, {BATCH} per transaction")
    parser.add_argument("--single-events", type=int, default=2_000,
                        help="events for the one-event-per-transaction run")
    parser.add_argument("--streams", type=int, default=STREAMS)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per figure, interleaved with the baseline's; the median counts")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {backend!r}")
    if "postgres" in backends and postgres_version(args.pg_url) is None:
        parser.error(f"PostgreSQL at {args.pg_url} does not answer")

    results: list[dict[str, Any]] = []
    for backend in backends:
        results.extend(run_backend(backend, events=args.events, single_events=args.single_events,
                                   repeat=args.repeat, pg_url=args.pg_url, streams=args.streams))
    info = machine()
    if "postgres" in backends:
        info["postgres"] = postgres_version(args.pg_url)
    print(table(results))
    print(f"\nmedian of {args.repeat}; ratio = tracker events/s / baseline events/s; "
          f"python {info['python']}, sqlite {info['sqlite']}, {info['cpus']} cpus"
          + (f", postgres {info['postgres']}" if "postgres" in info else ""))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "append": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
