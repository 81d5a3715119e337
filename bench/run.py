"""The performance suite: append, replay, rebuild, status and ingest at several log sizes.

For each backend and log size it builds a synthetic log shaped like tracker's (see
``bench/workload.py``), then measures, each figure beside a baseline taken in the same run and
interleaved with it (tracker, baseline, tracker, baseline...), the median of ``--repeat`` runs
of each and the ratio of the medians:

- append: batched (1,000 per transaction) and single-event appends against raw driver inserts
  of the same rows (``bench/append.py``), on a sample of at most ``--append-sample`` events;
- replay: the whole log read through ``EventStore.read`` and folded trivially (a count per
  stream and type, a key per event) against a raw driver read of the same rows, ``json.loads``
  of data and meta, and the same fold;
- rebuild: a full rebuild of every projection in a child process (its peak RSS too) against a
  raw driver read of each projection's rows, JSON decoding and the trivial fold;
- whole processes (``bench/targets.py``), interleaved with the start-up floor ``python -c
  "import sqlalchemy, click"`` under ``bench/startup.py``'s child conditions: ``tracker
  status`` (text and JSON), ``--as-of`` the middle of the recorded range, ``--world-as-of``
  the middle of the world range, and ``news`` and ``timeline`` for one month (2025-07), with
  each child's peak RSS;
- ingest (once per backend): ``bench/ingest.py``'s two passes, 100 loopback feeds x 100 items
  into a fresh seeded database and as many again into the log the first filled, medians of
  ``--ingest-repeat`` runs.

It ends with one "met"/"MISSED" line per target of issue 14 and record.

    python bench/run.py [--backends sqlite,postgres] [--sizes 10000,100000,1000000]
                        [--repeat 3] [--no-ingest] [--ingest-repeat N] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from append import (  # noqa: E402
    DEFAULT_PG_URL,
    fresh_database,
    machine,
    markdown_table,
    postgres_version,
    psycopg_conninfo,
    run_backend,
    sqlite_path,
)
from targets import (  # noqa: E402
    commands,
    ingest_verdicts,
    measure_ingest,
    read_verdicts,
    reads_table,
    time_children,
)
from workload import FakeClock, build_log, middle_recorded, middle_world  # noqa: E402

from tracker.app import open_tracker  # noqa: E402
from tracker.projections import PROJECTIONS  # noqa: E402
from tracker.projections.fold import wanted_types  # noqa: E402
from tracker.projector import Projector  # noqa: E402

DEFAULT_SIZES = "10000,100000"
REPEAT = 3
APPEND_SAMPLE = 100_000
SINGLE_EVENTS = 2_000
INGEST_FEEDS = 100
INGEST_ITEMS = 100
HERE = Path(__file__).resolve()


def _tracker_command() -> str:
    """The installed console script next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "tracker"
    return str(beside) if beside.exists() else (shutil.which("tracker") or "tracker")


# -- interleaved medians --------------------------------------------------------------------

def interleaved(tracker: Callable[[], dict[str, Any]], baseline: Callable[[], dict[str, Any]],
                repeat: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run ``tracker`` and ``baseline`` alternately ``repeat`` times each (each returns at least
    ``seconds`` and ``events``); the median run of each and the figures derived from them."""
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for _ in range(repeat):
        ours.append(tracker())
        theirs.append(baseline())
    a, b = _median_run(ours), _median_run(theirs)
    figures = {"eps": round(a["events"] / a["seconds"], 1),
               "baseline_eps": round(b["events"] / b["seconds"], 1),
               "ratio": round(b["seconds"] / a["seconds"], 3),
               "all_seconds": [round(r["seconds"], 4) for r in ours],
               "baseline_all_seconds": [round(r["seconds"], 4) for r in theirs]}
    return a, b, figures


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


# -- replay: the store's read path -----------------------------------------------------------

def _fold_row(counts: dict[tuple[str, str], int], keys: dict[str, int], stream_id: str,
              type_: str, data: Any, position: int) -> None:
    """The trivial fold both sides run: a count per stream and type, a key per event."""
    key = (stream_id, type_)
    counts[key] = counts.get(key, 0) + 1
    first = next(iter(data.values()), None) if data else None
    if isinstance(first, str):
        keys[first] = position


def measure_store_replay(url: str) -> dict[str, Any]:
    """Read the whole log through ``EventStore.read`` (decoded, upcast) and fold it trivially."""
    tracker = open_tracker(url)
    try:
        counts: dict[tuple[str, str], int] = {}
        keys: dict[str, int] = {}
        folded = 0
        gc.collect()
        start = time.perf_counter()
        for event in tracker.store.read():
            _fold_row(counts, keys, event.stream_id, event.type, event.data, event.position)
            folded += 1
        seconds = time.perf_counter() - start
    finally:
        tracker.close()
    return {"seconds": seconds, "events": folded}


def measure_raw_read(url: str) -> dict[str, Any]:
    """The same rows with the raw driver, ``json.loads`` of data and meta, the same fold."""
    loads = json.loads
    counts: dict[tuple[str, str], int] = {}
    keys: dict[str, int] = {}
    folded = 0
    gc.collect()
    start = time.perf_counter()
    for row in _raw_rows(url, None):
        data = loads(row[9])
        loads(row[10])
        _fold_row(counts, keys, row[2], row[4], data, row[0])
        folded += 1
    return {"seconds": time.perf_counter() - start, "events": folded}


# -- rebuild ---------------------------------------------------------------------------------

def replay_child(url: str) -> dict[str, Any]:
    """Rebuild every projection (run in a child process); time, events folded, peak RSS."""
    tracker = open_tracker(url)
    folded = 0

    def count(n: int) -> None:
        nonlocal folded
        folded += n

    try:
        start = time.perf_counter()
        Projector(tracker.store, PROJECTIONS, tracker.clock).rebuild(progress=count)
        seconds = time.perf_counter() - start
    finally:
        tracker.close()
    return {"seconds": seconds, "events": folded, "peak_rss_mb": round(peak_rss_kb() / 1024, 1)}


def peak_rss_kb() -> int:
    """This process's peak resident set, in KiB.

    Linux's ``VmHWM`` where there is one: ``getrusage``'s ``ru_maxrss`` survives ``exec``, so
    a child forked from a large parent would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_rebuild(url: str) -> dict[str, Any]:
    """``replay_child`` in a fresh interpreter, so its peak RSS is the rebuild's alone."""
    done = subprocess.run([sys.executable, str(HERE), "--replay-child", url],
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


_RAW_COLUMNS = ("position", "event_id", "stream_id", "stream_version", "type", "schema_version",
                "occurred_at", "occurred_precision", "recorded_at", "data", "meta", "prev_hash",
                "hash")


def _raw_rows(url: str, types: Sequence[str] | None) -> Iterator[Sequence[Any]]:
    """The rows (of ``types``, or all), in position order, JSON as text, from the driver."""
    if url.startswith("sqlite"):
        where = f"WHERE type IN ({', '.join('?' * len(types))}) " if types is not None else ""
        with sqlite3.connect(sqlite_path(url)) as db:
            cursor = db.execute(f"SELECT {', '.join(_RAW_COLUMNS)} FROM events {where}"
                                "ORDER BY position", list(types or ()))
            while rows := cursor.fetchmany(2000):
                yield from rows
        return
    import psycopg

    columns = ", ".join(f"{c}::text" if c in ("data", "meta") else c for c in _RAW_COLUMNS)
    where = "WHERE type = ANY(%s) " if types is not None else ""
    with psycopg.connect(psycopg_conninfo(url)) as pg, pg.cursor(name="bench") as named:
        named.itersize = 2000
        named.execute(f"SELECT {columns} FROM events {where}ORDER BY position",
                      (list(types),) if types is not None else ())
        yield from named


def measure_raw_replay(url: str) -> dict[str, Any]:
    """Per projection: read its rows, decode data and meta, the trivial fold."""
    loads = json.loads
    folded = 0
    gc.collect()
    start = time.perf_counter()
    for projection in PROJECTIONS.values():
        counts: dict[tuple[str, str], int] = {}
        keys: dict[str, int] = {}
        for row in _raw_rows(url, sorted(wanted_types(projection))):
            data = loads(row[9])
            loads(row[10])
            _fold_row(counts, keys, row[2], row[4], data, row[0])
            folded += 1
    return {"seconds": time.perf_counter() - start, "events": folded}


# -- one backend, one size -------------------------------------------------------------------

def _append_figures(backend: str, size: int, pg_url: str, sample: int,
                    repeat: int) -> dict[str, Any]:
    count = min(size, sample)
    rows = run_backend(backend, events=count, single_events=SINGLE_EVENTS, repeat=repeat,
                       pg_url=pg_url)
    out: dict[str, Any] = {"append_events": count}
    for row in rows:
        out[f"append_{row['mode']}_eps"] = row["tracker_events_per_s"]
        out[f"append_{row['mode']}_baseline_eps"] = row["baseline_events_per_s"]
        out[f"append_{row['mode']}_ratio"] = row["ratio"]
        out[f"append_{row['mode']}_all_eps"] = row["tracker_all_events_per_s"]
        out[f"append_{row['mode']}_baseline_all_eps"] = row["baseline_all_events_per_s"]
        out["append_baseline"] = row["baseline"]
    return out


def measure(backend: str, size: int, pg_url: str, sample: int, repeat: int = REPEAT,
            log: Any = print, pycache: str | None = None) -> dict[str, Any]:
    """Every figure for one backend and log size (``pycache``: the children's bytecode cache;
    a temporary one when not given)."""
    record: dict[str, Any] = {"backend": backend, "size": size, "repeats": repeat}
    log(f"[{backend} {size:,}] append")
    record.update(_append_figures(backend, size, pg_url, sample, repeat))
    with fresh_database(backend, pg_url) as url:
        log(f"[{backend} {size:,}] building the log")
        clock = FakeClock()
        tracker = open_tracker(url, clock)
        try:
            start = time.perf_counter()
            record["events"] = build_log(tracker, clock, size)
            record["build_seconds"] = round(time.perf_counter() - start, 2)
        finally:
            tracker.close()
        log(f"[{backend} {size:,}] replay")
        read, raw_read, figures = interleaved(lambda: measure_store_replay(url),
                                              lambda: measure_raw_read(url), repeat)
        _same_events("replay", read, raw_read)
        record.update(replay_events=read["events"], replay_seconds=round(read["seconds"], 3),
                      **{f"replay_{k}": v for k, v in figures.items()})
        log(f"[{backend} {size:,}] rebuild")
        peaks: list[float] = []

        def rebuilt() -> dict[str, Any]:
            result = measure_rebuild(url)
            peaks.append(result["peak_rss_mb"])
            return result

        rebuild, raw, figures = interleaved(rebuilt, lambda: measure_raw_replay(url), repeat)
        _same_events("rebuild", rebuild, raw)
        record.update(rebuild_events=rebuild["events"],
                      rebuild_seconds=round(rebuild["seconds"], 3),
                      **{f"rebuild_{k}": v for k, v in figures.items()},
                      rebuild_peak_rss_mb=max(peaks), rebuild_all_peak_rss_mb=peaks)
        log(f"[{backend} {size:,}] status, news, timeline (whole processes)")
        tracker = open_tracker(url)
        try:  # the children read caught-up projections
            Projector(tracker.store, PROJECTIONS, tracker.clock).catch_up()
            record["stories"] = sum(1 for _ in tracker.store.read(types=["story.created"]))
        finally:
            tracker.close()
        as_of = middle_recorded().strftime("%Y-%m-%dT%H:%MZ")
        world = middle_world().strftime("%Y-%m-%d")
        record.update(as_of=as_of, world_as_of=world)
        children = commands(_tracker_command(), url, as_of, world)
        with tempfile.TemporaryDirectory(prefix="tracker-bench-pycache-") as own:
            record.update(time_children(children, url, pycache or own, repeat))
    return record


def _same_events(figure: str, ours: dict[str, Any], baseline: dict[str, Any]) -> None:
    if ours["events"] != baseline["events"]:
        raise RuntimeError(f"{figure}: tracker folded {ours['events']} events, "
                           f"the raw read {baseline['events']}")


# -- reporting -------------------------------------------------------------------------------

def table(records: Sequence[dict[str, Any]]) -> str:
    """Throughput against the raw driver; ``targets.reads_table`` has the rest."""
    header = ("backend", "events", "append 1000/txn ev/s", "ratio", "append 1/txn ev/s", "ratio",
              "replay ev/s", "ratio", "rebuild ev/s", "ratio", "rebuild RSS MB")

    def eps(value: Any) -> str:
        return f"{value:,.0f}" if isinstance(value, int | float) else "-"

    def ratio(value: Any) -> str:
        return f"{value:.2f}x" if isinstance(value, int | float) else "-"

    lines = []
    for r in records:
        sample = "" if r["append_events"] == r["events"] else f" ({r['append_events']:,})"
        lines.append((
            r["backend"], f"{r['events']:,}", eps(r.get("append_batched_eps")) + sample,
            ratio(r.get("append_batched_ratio")), eps(r.get("append_single_eps")),
            ratio(r.get("append_single_ratio")), eps(r["replay_eps"]), ratio(r["replay_ratio"]),
            eps(r["rebuild_eps"]), ratio(r["rebuild_ratio"]),
            f"{r['rebuild_peak_rss_mb']:.0f}"))
    return markdown_table(header, lines, right=set(range(1, len(header))))


TARGETS: tuple[tuple[str, str, float], ...] = (
    ("append_batched_ratio", "batched append >= 0.75x raw executemany (sqlite)", 0.75),
    ("append_batched_ratio", "batched append >= 1.0x raw executemany (postgres)", 1.0),
    ("append_single_ratio", "single-event append >= 0.5x raw", 0.5),
    ("replay_ratio", "replay >= 0.6x raw read + json.loads + fold", 0.6),
    ("rebuild_ratio", "rebuild of every projection >= 0.45x raw", 0.45),
)


def pair_ratios(r: dict[str, Any], key: str) -> list[float]:
    """The ratio of each run to the baseline run beside it (the figure is that of the medians):
    how far one machine's load moved it within the run."""
    figure = key.removesuffix("_ratio")
    if figure.startswith("append_"):
        ours, theirs = r.get(f"{figure}_all_eps") or [], r.get(f"{figure}_baseline_all_eps") or []
        return [a / b for a, b in zip(ours, theirs, strict=False) if b]
    ours = r.get(f"{figure}_all_seconds") or []
    theirs = r.get(f"{figure}_baseline_all_seconds") or []
    return [b / a for a, b in zip(ours, theirs, strict=False) if a]


def spread(values: Sequence[float]) -> str:
    return f" (runs {min(values):.2f}-{max(values):.2f}x)" if len(values) > 1 else ""


def verdicts(records: Iterable[dict[str, Any]],
             ingests: Iterable[dict[str, Any]] = ()) -> list[str]:
    """One line per target and record (ingest: per backend): met or missed, with the figure."""
    lines = []
    for summary in ingests:
        lines.extend(ingest_verdicts(summary))
    for r in records:
        for key, label, floor in TARGETS:
            if "(sqlite)" in label and r["backend"] != "sqlite" or \
                    "(postgres)" in label and r["backend"] != "postgres":
                continue
            value = r.get(key)
            if isinstance(value, int | float):
                state = "met" if value >= floor else "MISSED"
                lines.append(f"{r['backend']:8s} {r['events']:>9,}  {label}: {value:.2f}x"
                             f"{spread(pair_ratios(r, key))} {state}")
        rss = r.get("rebuild_peak_rss_mb")
        if isinstance(rss, int | float):
            state = "met" if rss < 150 else "MISSED"
            lines.append(f"{r['backend']:8s} {r['events']:>9,}  rebuild peak RSS < 150 MB: "
                         f"{rss:.0f} MB {state}")
        lines.extend(read_verdicts(r))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated log sizes in events (default {DEFAULT_SIZES})")
    parser.add_argument("--append-sample", type=int, default=APPEND_SAMPLE,
                        help="at most this many events for the batched append figures")
    parser.add_argument("--repeat", type=int, default=REPEAT,
                        help=f"runs of each figure and of its baseline, interleaved; the median "
                             f"counts (default {REPEAT})")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest figures")
    parser.add_argument("--ingest-repeat", type=int,
                        help="two-pass ingest runs per backend (default: --repeat)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--replay-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay_child:
        print(json.dumps(replay_child(args.replay_child)))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            parser.error(f"unknown backend {backend!r}")
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if "postgres" in backends and postgres_version(args.pg_url) is None:
        parser.error(f"PostgreSQL at {args.pg_url} does not answer")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    records: list[dict[str, Any]] = []
    ingests: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tracker-bench-pycache-") as pycache:
        for backend in backends:
            got = None
            if not args.no_ingest:
                log(f"[{backend}] ingest: {INGEST_FEEDS} feeds x {INGEST_ITEMS} items, twice")
                got = measure_ingest(backend, args.pg_url, INGEST_FEEDS, INGEST_ITEMS,
                                     args.ingest_repeat or args.repeat, log)
                ingests.append(got)
            for size in sizes:
                record = measure(backend, size, args.pg_url, args.append_sample, args.repeat,
                                 log, pycache)
                record["ingest_items_per_s"] = got["first_items_per_s"] if got else None
                record["ingest_second_ratio"] = got["second_pass_ratio"] if got else None
                records.append(record)
    info = machine()
    if "postgres" in backends:
        info["postgres"] = postgres_version(args.pg_url)
    document = {"machine": info, "records": records, "ingest": ingests}
    print(json.dumps(document, indent=2))
    print()
    print(table(records))
    print()
    print(reads_table(records))
    print(f"\nmedians of {args.repeat} runs, each interleaved with its baseline's; throughput "
          f"ratios: baseline time / tracker time; whole processes (second table): seconds and "
          f"peak RSS of the child, x start-up = its time / that of `python -c \"import "
          f"sqlalchemy, click\"` in the same rounds; stories: story.created in the log; "
          f"append on at most {args.append_sample:,} events; "
          f"python {info['python']}, sqlite {info['sqlite']}, {os.cpu_count()} cpus"
          + (f", postgres {info['postgres']}" if "postgres" in info else ""))
    print()
    print("\n".join(verdicts(records, ingests)))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
