"""Time `tracker report --format html` on a log with many stories, next to a baseline measured
in the same run: the same site value written as JSON, one file per page.

    python bench/report.py                       # 10,000 stories, best of 3
    python bench/report.py --stories 2000 --repeat 1

The log is the packaged seed dossier plus ``--stories`` stories (a third of them carried by a
second feed, each with an extracted fact), written to a temporary SQLite file. The report is
timed as the command runs it: gather (status, stories, change feed, from the caught-up
projections), render (every page from the compiled templates), publish (write beside the
target, swap in; an earlier report there is removed). The baseline gathers the same value and
writes ``json.dumps`` of each page's data to as many files, the same way. Best of
``--repeat``, the two alternated; ``--dir`` puts the database and the sites elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker import report_publish, report_site  # noqa: E402
from tracker.app import Tracker, open_tracker  # noqa: E402
from tracker.dossier import load_seeds  # noqa: E402
from tracker.events import NewEvent  # noqa: E402
from tracker.render import html  # noqa: E402

POLICY = "hk-zhejiang-supply-chain"
START = datetime(2025, 5, 1, tzinfo=UTC)


def build(tracker: Tracker, stories: int) -> None:
    """The seeds, then ``stories`` stories with their sources and facts, in batches."""
    load_seeds(tracker)
    batch: list[NewEvent] = []
    for n in range(stories):
        when = START + timedelta(hours=n * 2)
        story_id = f"st-{n:012x}"
        url = f"https://news.example/{n}"
        title = f"Hong Kong and Zhejiang supply chain story {n} <b>&amp; more</b>"
        batch.append(NewEvent("story.created", {
            "story_id": story_id, "title": title, "url": url,
            "published": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "published_source": "feed",
            "item_key": f"guid:{n}", "feed": f"feed-{n % 40}", "policy_ids": [POLICY],
            "summary": "A follow-up on the mechanism. " * 4, "score": 9,
            "matched": ["Hong Kong", "Zhejiang"]}, when, "instant"))
        if n % 3 == 0:
            batch.append(NewEvent("story.corroborated", {
                "story_id": story_id, "item_key": f"guid:c{n}", "feed": f"feed-{(n + 1) % 40}",
                "link": f"https://wire.example/{n}", "title": title, "similarity": 0.9,
                "reason": "title", "policy_ids": [POLICY]}, when, "instant"))
        batch.append(NewEvent("fact.extracted", {
            "story_id": story_id, "policy_id": POLICY, "kind": "project_count",
            "value": {"count": n % 90}, "sentence": f"{n % 90} projects were signed.",
            "confidence": 0.8, "item_key": f"guid:{n}"}, when, "day"))
        if len(batch) >= 1000:
            tracker.store.append("news", batch)
            batch = []
    if batch:
        tracker.store.append("news", batch)


def run_report(tracker: Tracker, out: Path) -> tuple[float, float, float, int]:
    """Gather, render and publish once; each step's seconds and the files written."""
    t0 = time.perf_counter()
    with report_publish.collector_paused():  # as the command does
        site = report_site.gather(tracker)
        t1 = time.perf_counter()
        files = html.render_site(site)
        t2 = time.perf_counter()
    report_publish.publish(files, out)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, len(files)


def run_baseline(tracker: Tracker, out: Path) -> float:
    """The same site value as JSON, gathered and written the same way: the index's data in
    one file, each story in its own, the changes in a third."""
    start = time.perf_counter()
    with report_publish.collector_paused():
        site = report_site.gather(tracker)
        files = {"index.json": json.dumps({k: v for k, v in site.items() if k != "stories"},
                                          default=str).encode("utf-8")}
        for story in site["stories"]:
            files[f"stories/{html.page_name(story['id'])}.json"] = \
                json.dumps(story).encode("utf-8")
        files["changes.json"] = json.dumps(site["changes"], default=str).encode("utf-8")
    report_publish.publish(files, out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None,
                        help="where the database and the sites go (default: the system's "
                             "temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tracker = open_tracker(f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        build(tracker, args.stories)
        print(f"built {args.stories:,} stories in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        run_report(tracker, Path(tmp) / "warm")  # catches the projections up
        runs, baselines = [], []
        for _ in range(args.repeat):  # alternated, so both see the same load
            runs.append(run_report(tracker, Path(tmp) / "site"))
            baselines.append(run_baseline(tracker, Path(tmp) / "json"))
        best = min(runs, key=lambda r: r[0] + r[1] + r[2])
        baseline = min(baselines)
        total = sum(best[:3])
        print(f"report of {args.stories:,} stories ({best[3]:,} files): {total:.2f} s "
              f"(gather {best[0]:.2f} s, render {best[1]:.2f} s, publish {best[2]:.2f} s); "
              f"baseline (gather + json.dumps + publish) {baseline:.2f} s; "
              f"ratio {total / baseline:.2f}x")
        tracker.close()


if __name__ == "__main__":
    main()
