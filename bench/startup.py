"""Start-up: ``tracker status`` as a whole process against ``import sqlalchemy, click``.

``tracker status --format json`` is timed too: it is the same work without the text layout
(which imports rich). All run as child processes of this interpreter's ``python``,
interleaved (status, status as JSON, baseline, status...) so that a busy moment of a shared
machine hits them alike; the figures are medians. The database is created, migrated and
seeded before the clock starts, and its projections caught up by a first untimed ``status``.

The children cache bytecode (in a temporary ``PYTHONPYCACHEPREFIX``) as an installed tracker
does, even where ``PYTHONDONTWRITEBYTECODE`` is set: without a cache every tracker module is
compiled again at each start, which measures the compiler. ``--no-bytecode-cache`` measures
that instead.

    python bench/startup.py                      # SQLite in a temporary directory, 11 rounds
    python bench/startup.py --rounds 21
    python bench/startup.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python bench/startup.py --imports            # also: the slowest imports of `status`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROUNDS = 11
BASELINE = "import sqlalchemy, click"
#: What ``tracker status`` must stay within, as a multiple of the baseline (issue 14).
TARGET = 1.3


def _run(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return seconds


def slowest_imports(env: dict[str, str], top: int = 15) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest imports of ``tracker status``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tracker", "status"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=True, text=True)
    found = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                found.append((int(cumulative), name.rstrip()))
    return sorted(found, reverse=True)[:top]


def child_env(url: str, pycache: str | None) -> dict[str, str]:
    env = {**os.environ, "TRACKER_DATABASE_URL": url}
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def measure(env: dict[str, str], rounds: int) -> dict[str, object]:
    commands = {"status": [sys.executable, "-m", "tracker", "status"],
                "status_json": [sys.executable, "-m", "tracker", "status", "--format", "json"],
                "baseline": [sys.executable, "-c", BASELINE]}
    for argv in commands.values():  # the first creates, migrates and seeds a new database
        _run(argv, env)
    timed: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            timed[name].append(_run(argv, env))
    median = {name: statistics.median(values) for name, values in timed.items()}
    ratio = median["status"] / median["baseline"]
    return {"rounds": rounds, "status_s": round(median["status"], 4),
            "status_json_s": round(median["status_json"], 4),
            "baseline_s": round(median["baseline"], 4), "ratio": round(ratio, 3),
            "json_ratio": round(median["status_json"] / median["baseline"], 3),
            "target": TARGET, "met": ratio <= TARGET,
            "all": {k: [round(v, 4) for v in vs] for k, vs in timed.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed runs of each (>= 5)")
    parser.add_argument("--database-url", metavar="URL",
                        help="an existing database (default: a new SQLite file)")
    parser.add_argument("--imports", action="store_true",
                        help="also list the slowest imports of `tracker status`")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run the children as the environment says (no cache if "
                             "PYTHONDONTWRITEBYTECODE is set)")
    parser.add_argument("--json", metavar="PATH", help="the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tracker-bench-startup-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'startup.db'}"
        env = child_env(url, None if args.no_bytecode_cache else str(Path(tmp) / "pycache"))
        figures = measure(env, max(args.rounds, 5))
        if args.imports:
            figures["slowest_imports"] = slowest_imports(env)
    print(f"tracker status {figures['status_s']:.3f} s, `python -c \"{BASELINE}\"` "
          f"{figures['baseline_s']:.3f} s: {figures['ratio']:.2f}x (target <= {TARGET}x, "
          f"{'met' if figures['met'] else 'missed'}; medians of {figures['rounds']}); "
          f"--format json {figures['status_json_s']:.3f} s, {figures['json_ratio']:.2f}x")
    for cumulative, name in figures.get("slowest_imports", []):  # type: ignore[attr-defined]
        print(f"  {cumulative / 1000:7.1f} ms  {name}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
