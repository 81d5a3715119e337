"""Ingest speed: 100 loopback feeds of 100 items each, end to end, twice.

Each run starts from a fresh seeded SQLite database, subscribes ``--feeds`` feeds served by
the tests' loopback :class:`FeedServer` (``allow_private``: they live on 127.0.0.1), and times
two ``ingest`` passes over them:

- **first pass**: every item is new and the log holds no news yet;
- **second pass**: as many new items again, published a day later, into the log the first
  pass filled: every story it made is still within the matching window, so this is the
  steady state of a tracker that polls every few hours.

It prints items/s of the first pass and the second pass's time over the first's (the
"second-pass ratio"), each the median of ``--repeat`` runs.

``--reclassify`` measures ``tracker reclassify`` instead: the first pass is ingested under
rules no item passes (so no stories), then reclassify under the dossier's own rules gives
every relevant item its story, one at a time as ingest would have.

    python bench/ingest.py                          # 100 feeds x 100 items, median of 3
    python bench/ingest.py --feeds 20 --repeat 1    # a quick look
    python bench/ingest.py --profile /tmp/ingest.prof --repeat 1   # cProfile both passes
    python bench/ingest.py --reclassify             # reclassify, 100 feeds x 100 items
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.feed_server import FeedServer  # noqa: E402
from tracker.app import open_tracker  # noqa: E402
from tracker.dossier import load_seeds  # noqa: E402
from tracker.feeds import add_feed, remove_feed, subscriptions  # noqa: E402
from tracker.ingest import relevance  # noqa: E402
from tracker.ingest.run import ingest  # noqa: E402
from tracker.reclassify import reclassify  # noqa: E402
from tracker.rules_log import rules_by_policy  # noqa: E402

FEEDS = 100
ITEMS = 100
REPEAT = 3
#: The second pass's items come out this much later than the first's.
PASS_GAP = timedelta(hours=30)

#: One in six items is relevant: the first two kinds of headline are each one event (a new
#: story); the third repeats across feeds (40 events told by every feed: corroborations).
_RELEVANT = (
    ("Hong Kong and Zhejiang launch supply chain services mechanism {n}",
     "Hong Kong and Zhejiang signed {k} projects in Ningbo under the supply chain mechanism. "
     "The mechanism is now operational, officials said."),
    ("Zhejiang robotics firm weighs Hong Kong listing {n}",
     "Deep Robotics is considering a listing in Hong Kong, people familiar said, as the "
     "Hong Kong and Zhejiang supply chain mechanism brings trade closer."),
    ("HK-Zhejiang supply chain mechanism draws {k} firms",
     "John Lee said the Hong Kong Zhejiang mechanism had drawn {k} firms. "
     "The US raised tariffs on Chinese goods to 145%."),
)
_IRRELEVANT = (
    ("City council approves harbour park budget {n}",
     "The council voted to approve a budget for the harbour park after a long review."),
    ("Weather: showers expected over the weekend {n}",
     "Forecasters expect showers and cooler temperatures across the region on Saturday."),
    ("Festival returns to the waterfront {n}",
     "Organisers said the annual festival would return with food stalls and music."),
    ("Shipping rates ease as demand cools {n}",
     "Container rates on major routes fell for a third week, brokers said."),
)


def feed_xml(feed: int, items: int, newest: datetime, run: int) -> bytes:
    """An RSS 2.0 document of ``items`` items of pass ``run`` (0 or 1), about one in six
    relevant, the newest published at ``newest``."""
    entries = []
    for i in range(items):
        n = run * 1_000_000 + feed * 1000 + i
        title, summary = (_RELEVANT[n % 3] if i % 6 == 0 else _IRRELEVANT[n % 4])
        published = format_datetime(newest - timedelta(minutes=17 * i + feed), usegmt=True)
        k = 10 + n % 40
        entries.append(
            f"<item><title>{title.format(n=n, k=k)}</title>"
            f"<link>https://feed{feed:03d}.example/news/{n}</link>"
            f"<guid>feed{feed:03d}-{n}</guid><pubDate>{published}</pubDate>"
            f"<description>{summary.format(n=n, k=k)}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>https://feed{feed:03d}.example/</link>"
            f"<description>bench</description>{''.join(entries)}</channel></rss>").encode()


def one_run(feeds: int, items: int, profile: cProfile.Profile | None = None,
            url: str | None = None) -> dict[str, Any]:
    """Two timed passes on a fresh database (an SQLite file, or the empty one at ``url``);
    their figures."""
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="tracker-bench-ingest-") as tmp, \
            FeedServer() as server:
        tracker = open_tracker(url or f"sqlite:///{tmp}/bench.db")
        try:
            load_seeds(tracker)
            for name in subscriptions(tracker):  # the shipped feeds are out on the internet
                remove_feed(tracker, name)
            for f in range(feeds):
                add_feed(tracker, f"bench-{f:03d}", server.url(f"feed-{f:03d}.xml"),
                         allow_private=True)  # served on loopback
            passes = []
            for run, newest in enumerate((now - PASS_GAP, now)):
                for f in range(feeds):
                    server.serve(f"feed-{f:03d}.xml", feed_xml(f, items, newest, run),
                                 content_type="application/rss+xml")
                if profile is not None:
                    profile.enable()
                start = time.perf_counter()
                summary = ingest(tracker, due_only=False)
                seconds = time.perf_counter() - start
                if profile is not None:
                    profile.disable()
                failed = [o.line() for o in summary.outcomes if o.status == "failed"]
                if failed:
                    raise SystemExit(f"feeds failed: {failed[:3]}")
                recorded = sum(o.items for o in summary.outcomes)
                passes.append({
                    "items": recorded, "seconds": round(seconds, 3),
                    "items_per_s": round(recorded / seconds, 1),
                    "stories": sum(o.stories for o in summary.outcomes),
                    "corroborations": sum(o.corroborations for o in summary.outcomes),
                    "facts": sum(o.facts for o in summary.outcomes)})
        finally:
            tracker.close()
    first, second = passes
    return {"first": first, "second": second,
            "ratio": round(second["seconds"] / first["seconds"], 3)}


def _unreachable_rules() -> relevance.Rules:
    """The shipped rules at a threshold no item reaches."""
    text = (ROOT / "seeds" / "relevance.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^threshold = \d+$", "threshold = 1000", text)
    text = re.sub(r'(?m)^version = ".*"$', 'version = "bench-none.1"', text)
    return relevance.parse_rules(text, "bench: no item relevant")


def reclassify_run(feeds: int, items: int, profile: cProfile.Profile | None = None
                   ) -> dict[str, Any]:
    """One pass ingested with no item relevant, then a timed ``reclassify``."""
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="tracker-bench-reclassify-") as tmp, \
            FeedServer() as server:
        tracker = open_tracker(f"sqlite:///{tmp}/bench.db")
        try:
            load_seeds(tracker)
            for name in subscriptions(tracker):
                remove_feed(tracker, name)
            for f in range(feeds):
                server.serve(f"feed-{f:03d}.xml", feed_xml(f, items, now, 0),
                             content_type="application/rss+xml")
                add_feed(tracker, f"bench-{f:03d}", server.url(f"feed-{f:03d}.xml"),
                         allow_private=True)
            none = _unreachable_rules()
            ingest(tracker, due_only=False,
                   rules={policy: none for policy in rules_by_policy(tracker)})
            if profile is not None:
                profile.enable()
            start = time.perf_counter()
            result = reclassify(tracker)
            seconds = time.perf_counter() - start
            if profile is not None:
                profile.disable()
            stories = sum(1 for _ in tracker.store.read(types=["story.created"]))
        finally:
            tracker.close()
    return {"items": result.items, "changed": result.changed,
            "newly_relevant": result.newly_relevant, "stories": stories,
            "seconds": round(seconds, 3),
            "newly_relevant_per_s": round(result.newly_relevant / seconds, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=FEEDS)
    parser.add_argument("--items", type=int, default=ITEMS, help="items per feed and pass")
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--profile", metavar="PATH",
                        help="cProfile both passes of the runs; stats to PATH, top 30 printed")
    parser.add_argument("--reclassify", action="store_true",
                        help="measure reclassify instead of two ingest passes")
    parser.add_argument("--json", metavar="PATH", help="the figures as JSON")
    args = parser.parse_args(argv)
    profile = cProfile.Profile() if args.profile else None
    if args.reclassify:
        return _main_reclassify(args, profile)
    runs = []
    for r in range(args.repeat):
        figures = one_run(args.feeds, args.items, profile)
        runs.append(figures)
        print(f"run {r + 1}: first pass {figures['first']['items']} items in "
              f"{figures['first']['seconds']:.2f} s ({figures['first']['items_per_s']:.0f}/s), "
              f"second {figures['second']['items']} in {figures['second']['seconds']:.2f} s, "
              f"ratio {figures['ratio']:.2f}; stories {figures['first']['stories']} + "
              f"{figures['second']['stories']}", file=sys.stderr, flush=True)
    summary = {
        "feeds": args.feeds, "items_per_feed": args.items, "repeat": args.repeat,
        "first_items_per_s": statistics.median(r["first"]["items_per_s"] for r in runs),
        "second_items_per_s": statistics.median(r["second"]["items_per_s"] for r in runs),
        "second_pass_ratio": statistics.median(r["ratio"] for r in runs),
        "runs": runs}
    print(f"ingest: {summary['first_items_per_s']:.0f} items/s first pass, "
          f"{summary['second_items_per_s']:.0f} items/s second, second-pass ratio "
          f"{summary['second_pass_ratio']:.2f} (medians of {args.repeat})")
    return _finish(args, summary, profile)


def _finish(args: argparse.Namespace, summary: dict[str, Any],
            profile: cProfile.Profile | None) -> int:
    """Write the figures where ``--json`` says, and the profile where ``--profile`` says."""
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
    return 0


def _main_reclassify(args: argparse.Namespace, profile: cProfile.Profile | None) -> int:
    runs = []
    for r in range(args.repeat):
        figures = reclassify_run(args.feeds, args.items, profile)
        runs.append(figures)
        print(f"run {r + 1}: reclassify of {figures['items']} items, {figures['changed']} "
              f"changed, {figures['newly_relevant']} newly relevant ({figures['stories']} "
              f"stories) in {figures['seconds']:.2f} s", file=sys.stderr, flush=True)
    seconds = statistics.median(r["seconds"] for r in runs)
    summary = {"feeds": args.feeds, "items_per_feed": args.items, "repeat": args.repeat,
               "seconds": seconds,
               "newly_relevant_per_s": statistics.median(r["newly_relevant_per_s"]
                                                         for r in runs),
               "runs": runs}
    print(f"reclassify: {seconds:.2f} s, {summary['newly_relevant_per_s']:.0f} newly relevant "
          f"items/s (medians of {args.repeat})")
    return _finish(args, summary, profile)


if __name__ == "__main__":
    sys.exit(main())
