"""The suite's read and ingest figures, for ``bench/run.py``: whole-process commands against
the start-up floor, and ingest's two passes on either backend.

- ``time_children``: ``tracker status`` (text and JSON), ``--as-of``, ``--world-as-of``,
  ``news`` and ``timeline`` for one month, each a whole process of the installed console
  script, interleaved round by round with the baseline child ``python -c "import sqlalchemy,
  click"`` under the same conditions as ``bench/startup.py`` (its ``child_env``: the database
  URL in the environment, bytecode cached in a temporary ``PYTHONPYCACHEPREFIX``). Each child
  runs under GNU ``time`` where there is one, for its own peak RSS (``%M``: the child's
  ``ru_maxrss`` taken by ``wait4``, so it is that process's alone); the baseline runs under it
  too, so both pay the same wrapper.
- ``measure_ingest``: ``bench/ingest.py``'s two passes (100 feeds x 100 items, a second
  10,000 items into the log the first filled) on a fresh database of either backend.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from append import fresh_database, markdown_table  # noqa: E402
from ingest import one_run  # noqa: E402
from startup import BASELINE, child_env  # noqa: E402
from startup import TARGET as STATUS_TARGET  # noqa: E402

#: The one-month window news and timeline are asked about (the workload publishes from
#: 2025-05-01 over 180 days), and their bounds (issue 14: at 10,000 stories).
WINDOW = "2025-07"
READ_SECONDS = 0.5
READ_MB = 100.0
READ_STORIES = 10_000
WORLD_AS_OF_SECONDS = 1.0
WORLD_AS_OF_EVENTS = 1_000_000
INGEST_ITEMS_PER_S = 500.0
INGEST_SECOND_RATIO = 1.2
GNU_TIME = "/usr/bin/time"


def _gnu_time() -> bool:
    try:
        return subprocess.run([GNU_TIME, "-f", "%M", "-o", os.devnull, "true"],
                              capture_output=True).returncode == 0
    except OSError:
        return False


HAVE_TIME = _gnu_time()


def commands(tracker: str, url: str, as_of: str, world: str) -> dict[str, list[str]]:
    """The children timed, by name; ``baseline`` is the start-up floor."""
    base = [tracker, "--database-url", url]
    window = ["--since", WINDOW, "--until", WINDOW, "--format", "json"]
    return {"status_text": [*base, "status"],
            "status": [*base, "status", "--format", "json"],
            "as_of": [*base, "status", "--as-of", as_of, "--format", "json"],
            "world_as_of": [*base, "status", "--world-as-of", world, "--format", "json"],
            "news": [*base, "news", *window],
            "timeline": [*base, "timeline", *window],
            "baseline": [sys.executable, "-c", BASELINE]}


def _run(argv: Sequence[str], env: dict[str, str], rss_file: str
         ) -> tuple[float, float | None, str]:
    wrapped = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv] if HAVE_TIME else list(argv)
    start = time.perf_counter()
    done = subprocess.run(wrapped, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    rss = int(Path(rss_file).read_text().split()[-1]) / 1024 if HAVE_TIME else None
    return seconds, rss, done.stdout


def time_children(children: dict[str, list[str]], url: str, pycache: str,
                  repeat: int) -> dict[str, Any]:
    """Each child once untimed (warming the bytecode cache and the projections), then
    ``repeat`` interleaved rounds; per child the median seconds, the peak RSS over its runs,
    every run's time; for news and timeline what they listed."""
    env = child_env(url, pycache)
    seconds: dict[str, list[float]] = {name: [] for name in children}
    rss: dict[str, list[float]] = {name: [] for name in children}
    out: dict[str, str] = {}
    with tempfile.NamedTemporaryFile(prefix="tracker-bench-rss-") as side:
        for argv in children.values():
            _run(argv, env, side.name)
        for _ in range(repeat):
            for name, argv in children.items():
                s, mb, out[name] = _run(argv, env, side.name)
                seconds[name].append(s)
                if mb is not None:
                    rss[name].append(mb)
    floor = statistics.median(seconds["baseline"])
    figures: dict[str, Any] = {"startup_baseline_seconds": round(floor, 4),
                               "startup_baseline_rss_mb": max(rss["baseline"], default=None)}
    for name in children:
        if name == "baseline":
            continue
        median = statistics.median(seconds[name])
        figures[f"{name}_seconds"] = round(median, 4)
        figures[f"{name}_ratio"] = round(median / floor, 3)  # x the start-up floor
        figures[f"{name}_rss_mb"] = round(max(rss[name]), 1) if rss[name] else None
    figures["children_all_seconds"] = {k: [round(v, 4) for v in vs] for k, vs in seconds.items()}
    figures["news_window_stories"] = json.loads(out["news"]).get("total")
    figures["timeline_window_entries"] = json.loads(out["timeline"]).get("count")
    figures["window"] = WINDOW
    return figures


# -- ingest, two passes, either backend ------------------------------------------------------

def measure_ingest(backend: str, pg_url: str, feeds: int, items: int, repeat: int,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """``repeat`` two-pass runs, each on a fresh database; their medians."""
    runs = []
    for r in range(repeat):
        with fresh_database(backend, pg_url) as url:
            figures = one_run(feeds, items, url=url)
        runs.append(figures)
        log(f"[{backend}] ingest run {r + 1}: first {figures['first']['items']} items in "
            f"{figures['first']['seconds']:.2f} s, second {figures['second']['items']} in "
            f"{figures['second']['seconds']:.2f} s")
    return {"backend": backend, "feeds": feeds, "items_per_feed": items, "repeat": repeat,
            "first_items": runs[0]["first"]["items"],
            "first_seconds": statistics.median(r["first"]["seconds"] for r in runs),
            "second_seconds": statistics.median(r["second"]["seconds"] for r in runs),
            "first_items_per_s": statistics.median(r["first"]["items_per_s"] for r in runs),
            "second_items_per_s": statistics.median(r["second"]["items_per_s"] for r in runs),
            "second_pass_ratio": statistics.median(r["ratio"] for r in runs),
            "runs": runs}


# -- reporting -------------------------------------------------------------------------------

def _state(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _num(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def reads_table(records: Sequence[dict[str, Any]]) -> str:
    """Whole processes against the start-up floor, and ingest."""
    header = ("backend", "events", "stories", "start-up s", "status s", "x start-up",
              "as-of s", "world-as-of s", f"news {WINDOW} s", "MB", "x start-up",
              f"timeline {WINDOW} s", "MB", "x start-up", "ingest items/s", "2nd/1st")
    lines = [(r["backend"], f"{r['events']:,}", _num(r.get("stories"), ","),
              _num(r.get("startup_baseline_seconds"), ".3f"),
              _num(r.get("status_text_seconds"), ".3f"), _num(r.get("status_text_ratio"), ".2f"),
              _num(r.get("as_of_seconds"), ".2f"), _num(r.get("world_as_of_seconds"), ".2f"),
              _num(r.get("news_seconds"), ".3f"), _num(r.get("news_rss_mb"), ".0f"),
              _num(r.get("news_ratio"), ".2f"), _num(r.get("timeline_seconds"), ".3f"),
              _num(r.get("timeline_rss_mb"), ".0f"), _num(r.get("timeline_ratio"), ".2f"),
              _num(r.get("ingest_items_per_s"), ",.0f"),
              _num(r.get("ingest_second_ratio"), ".2f")) for r in records]
    return markdown_table(header, lines, right=set(range(1, len(header))))


def read_verdicts(r: dict[str, Any]) -> list[str]:
    """Start-up, world-as-of, news and timeline: a line each, for one record."""
    head = f"{r['backend']:8s} {r['events']:>9,}  "
    lines = []
    floor = r.get("startup_baseline_seconds")
    if isinstance(r.get("status_text_ratio"), int | float):
        ratio = r["status_text_ratio"]
        runs = r.get("children_all_seconds") or {}
        pairs = [a / b for a, b in zip(runs.get("status_text", []), runs.get("baseline", []),
                                       strict=False) if b]
        within = f" (runs {min(pairs):.2f}-{max(pairs):.2f}x)" if len(pairs) > 1 else ""
        lines.append(f"{head}tracker status <= {STATUS_TARGET}x `python -c \"{BASELINE}\"`: "
                     f"{r['status_text_seconds']:.3f} s vs {floor:.3f} s = {ratio:.2f}x{within} "
                     f"(--format json {r['status_ratio']:.2f}x) {_state(ratio <= STATUS_TARGET)}")
    if isinstance(r.get("world_as_of_seconds"), int | float):
        seconds = r["world_as_of_seconds"]
        where = "this row" if r["events"] >= WORLD_AS_OF_EVENTS else "not this row"
        lines.append(f"{head}status --world-as-of <= {WORLD_AS_OF_SECONDS:.0f} s (target at "
                     f"{WORLD_AS_OF_EVENTS:,} events, {where}): {seconds:.2f} s "
                     f"{_state(seconds <= WORLD_AS_OF_SECONDS)}")
    for name in ("news", "timeline"):
        seconds, mb = r.get(f"{name}_seconds"), r.get(f"{name}_rss_mb")
        if not isinstance(seconds, int | float):
            continue
        listed = (f"{r.get('news_window_stories')} in the window" if name == "news" else
                  f"{r.get('timeline_window_entries')} entries")
        what = (f"{name} --since {WINDOW} --until {WINDOW} (target at {READ_STORIES:,} "
                f"stories; this log {r.get('stories', 0):,}, {listed})")
        lines.append(f"{head}{what} < {READ_SECONDS} s: {seconds:.3f} s whole process "
                     f"({r[f'{name}_ratio']:.2f}x start-up {floor:.3f} s) "
                     f"{_state(seconds < READ_SECONDS)}")
        if isinstance(mb, int | float):
            lines.append(f"{head}{what} < {READ_MB:.0f} MB: {mb:.0f} MB peak RSS "
                         f"(start-up {r['startup_baseline_rss_mb']:.0f} MB) "
                         f"{_state(mb < READ_MB)}")
        else:
            lines.append(f"{head}{what} < {READ_MB:.0f} MB: not measured (no GNU time)")
    return lines


def ingest_verdicts(summary: dict[str, Any]) -> list[str]:
    head = f"{summary['backend']:8s} {'ingest':>9s}  "
    first, ratio = summary["first_items_per_s"], summary["second_pass_ratio"]
    return [f"{head}{summary['first_items']:,} items from {summary['feeds']} loopback feeds "
            f">= {INGEST_ITEMS_PER_S:.0f} items/s: {first:,.0f} items/s "
            f"({summary['first_seconds']:.2f} s) {_state(first >= INGEST_ITEMS_PER_S)}",
            f"{head}second pass into the filled log <= {INGEST_SECOND_RATIO}x the first: "
            f"{ratio:.2f}x ({summary['second_seconds']:.2f} s vs {summary['first_seconds']:.2f}"
            f" s) {_state(ratio <= INGEST_SECOND_RATIO)}"]
