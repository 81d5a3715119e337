"""Time a rebuild of every projection over one log, to compare two versions of tracker on the
same data: `python bench/rebuild.py build URL` writes a log shaped like tracker's (see
``bench/workload.py``); `python bench/rebuild.py time URL` prints the median of three rebuilds.
Run `time` from each checkout (its own venv) on copies of one built file, alternating.

    python bench/rebuild.py build sqlite:////tmp/r10k.db --events 10000
    cp /tmp/r10k.db /tmp/a.db && python bench/rebuild.py time sqlite:////tmp/a.db
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workload import FakeClock, build_log  # noqa: E402

from tracker.app import open_tracker  # noqa: E402
from tracker.projections import PROJECTIONS  # noqa: E402
from tracker.projector import Projector  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "time"])
    parser.add_argument("url")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.action == "build":
        clock = FakeClock()
        tracker = open_tracker(args.url, clock)
        print(f"built a log of {build_log(tracker, clock, args.events)} events")
        return
    tracker = open_tracker(args.url)
    first = next(iter(inspect.signature(Projector).parameters))
    handle = tracker.engine if first == "engine" else tracker.store  # earlier checkouts
    projector = Projector(handle, PROJECTIONS, tracker.clock)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        projector.rebuild()
        times.append(time.perf_counter() - start)
    print(f"rebuild of {len(PROJECTIONS)} projections: median {statistics.median(times):.3f} s "
          f"({', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
