"""The evaluation: the real ingest pipeline, without a database, on the labelled set in
``bench/eval/``.

Every item goes through ``decide.prepare`` (relevance and facts) and ``decide.decide`` (items,
stories, facts), day by day and, within a day, feed by feed as a cron pass would fetch them,
with ``Known`` carried forward from one call to the next. What came out is then scored against
the labels (see docs/evaluation.md):

- relevance precision and recall (``core`` and ``context`` against negatives), per tier too;
- near-duplicate merge rate: the share of near-duplicate groups that ended in one story;
- same-event merge rate: the share of events told in several write-ups that ended in one story;
- over-merged stories: stories holding items of two different events;
- fact recall: expected claims found among the item's ``fact.extracted`` events.

    python bench/relevance.py [--verbose] [--set DIR] [--rules FILE] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.catalogue import (  # noqa: E402
    FACT_EXTRACTED,
    STORY_CORROBORATED,
    STORY_CREATED,
    STORY_MERGED,
)
from tracker.events import canonical_json  # noqa: E402
from tracker.ingest import decide, identity, parse, relevance  # noqa: E402
from tracker.ingest.known import Known  # noqa: E402

SET_DIR = Path(__file__).resolve().parent / "eval"
RELEVANT_LABELS = ("core", "context")
TIERS = ("official", "wire", "press", "aggregator", "unrated")


@dataclass(frozen=True, slots=True)
class Expected:
    """One expected claim: a slot and the value it should get."""

    slot: str
    value: Any


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One feed item as the feed gives it, with what an analyst says about it."""

    feed: str
    tier: str
    language: str
    kind: str
    item: parse.Item
    relevant: str | None
    group: str
    event: str
    facts: tuple[Expected, ...]

    @property
    def truly_relevant(self) -> bool:
        return self.relevant in RELEVANT_LABELS


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed of the set: who publishes it and its labelled items."""

    name: str
    publisher: str
    tier: str
    language: str
    kind: str
    items: tuple[LabelledItem, ...]


@dataclass(slots=True)
class Outcome:
    """What the pipeline made of one item."""

    labelled: LabelledItem
    key: str
    predicted: bool = False
    story: str | None = None
    claims: list[tuple[str, Any]] = field(default_factory=list)
    reason: str = ""
    #: The evidence the item joined its story on (empty: it began the story).
    joined_by: str = ""


# -- the set ----------------------------------------------------------------------------------

def _when(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _item(raw: Mapping[str, Any]) -> parse.Item:
    title, summary = str(raw["title"]), str(raw.get("summary", ""))
    return parse.Item(
        guid=raw.get("guid") or None, title=title,
        link=identity.canonical_link(raw.get("link")), published=_when(raw["published"]),
        published_source="feed", date_flags=(), summary=summary,
        author=raw.get("author"), content_hash=identity.content_hash(title, summary),
        source_url=(raw.get("source") or {}).get("url"),
        source_name=(raw.get("source") or {}).get("name"))


def load_set(directory: Path = SET_DIR) -> list[Feed]:
    """Every ``*.json`` feed file of ``directory``, sorted by name."""
    feeds = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        meta = {k: str(data[k]) for k in ("feed", "publisher", "tier", "language", "kind")}
        items = tuple(
            LabelledItem(
                feed=meta["feed"], tier=meta["tier"], language=raw.get("language",
                                                                       meta["language"]),
                kind=meta["kind"], item=_item(raw), relevant=raw["relevant"] or None,
                group=str(raw["group"]), event=str(raw["event"]),
                facts=tuple(Expected(f["slot"], f["value"]) for f in raw.get("facts", [])))
            for raw in data["items"])
        feeds.append(Feed(meta["feed"], meta["publisher"], meta["tier"], meta["language"],
                          meta["kind"], items))
    return feeds


# -- the run ----------------------------------------------------------------------------------

def run(feeds: Sequence[Feed], rules: relevance.Rules) -> list[Outcome]:
    """Feed every item through prepare and decide, a day's pass at a time, in feed order."""
    outlets = {f.name: decide.Outlet(f.publisher, f.tier) for f in feeds}
    by_day: dict[Any, dict[str, list[LabelledItem]]] = defaultdict(lambda: defaultdict(list))
    for feed in feeds:
        for labelled in sorted(feed.items, key=lambda i: i.item.published):
            by_day[labelled.item.published.date()][feed.name].append(labelled)
    outcomes: dict[tuple[str, str], Outcome] = {}
    ordered: list[Outcome] = []
    known = Known()
    for day in sorted(by_day):
        fetched_at = datetime.combine(day, time(23, 59), tzinfo=UTC)
        for feed in feeds:
            batch = by_day[day].get(feed.name)
            if not batch:
                continue
            # one dossier, the one the labels are written for
            prepared = [decide.prepare(labelled.item, {"dossier": rules}) for labelled in batch]
            for labelled, p in zip(batch, prepared, strict=True):
                outcome = Outcome(labelled, p.key, p.decision.relevant,
                                  reason=p.decision.reason)
                outcomes.setdefault((feed.name, p.key), outcome)
                ordered.append(outcome)
            plan = decide.decide(feed.name, prepared, known, fetched_at=fetched_at,
                                 actor="eval", outlet=outlets[feed.name])
            _read_plan(plan, outcomes)
            known = known.with_events([event for _stream, event in plan.events])
    return ordered


def _read_plan(plan: decide.Plan, outcomes: Mapping[tuple[str, str], Outcome]) -> None:
    for _stream, event in plan.events:
        data = event.data
        if event.type == STORY_MERGED:
            for each in outcomes.values():
                if each.story == data["merged_id"]:
                    each.story = str(data["story_id"])
            continue
        outcome = outcomes.get((str(data.get("feed")), str(data.get("item_key"))))
        if outcome is None:
            continue
        if event.type in (STORY_CREATED, STORY_CORROBORATED):
            outcome.story = str(data["story_id"])
            outcome.joined_by = str(data.get("reason") or "")
        elif event.type == FACT_EXTRACTED and data.get("slot"):
            outcome.claims.append((str(data["slot"]), data.get("claim_value")))


# -- the figures ------------------------------------------------------------------------------

def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def relevance_figures(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Precision and recall of relevant (core or context) against negatives."""
    outcomes = list(outcomes)
    tp = sum(1 for o in outcomes if o.predicted and o.labelled.truly_relevant)
    fp = sum(1 for o in outcomes if o.predicted and not o.labelled.truly_relevant)
    fn = sum(1 for o in outcomes if not o.predicted and o.labelled.truly_relevant)
    return {"items": len(outcomes), "tp": tp, "fp": fp, "fn": fn,
            "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}


def _clusters(outcomes: Iterable[Outcome], label: str) -> dict[str, list[Outcome]]:
    clusters: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.labelled.truly_relevant:
            clusters[getattr(o.labelled, label)].append(o)
    return clusters


def _in_one_story(members: Sequence[Outcome]) -> bool:
    stories = {o.story for o in members}
    return len(stories) == 1 and None not in stories


def merge_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Near-duplicate groups and multi-write-up events in one story; over-merged stories."""
    groups = {g: m for g, m in _clusters(outcomes, "group").items() if len(m) > 1}
    events = {e: m for e, m in _clusters(outcomes, "event").items()
              if len({o.labelled.group for o in m}) > 1}
    stories: dict[str, set[str]] = defaultdict(set)
    for o in outcomes:
        if o.story is not None:
            stories[o.story].add(o.labelled.event)
    over = sorted(s for s, evs in stories.items() if len(evs) > 1)
    split_groups = sorted(g for g, m in groups.items() if not _in_one_story(m))
    split_events = sorted(e for e, m in events.items() if not _in_one_story(m))
    return {
        "groups": len(groups), "groups_merged": len(groups) - len(split_groups),
        "near_duplicate_merge": _ratio(len(groups) - len(split_groups), len(groups)),
        "events": len(events), "events_merged": len(events) - len(split_events),
        "same_event_merge": _ratio(len(events) - len(split_events), len(events)),
        "stories": len(stories), "over_merged": len(over),
        "over_merged_share": _ratio(len(over), len(stories)),
        "split_groups": split_groups, "split_events": split_events, "over_merged_ids": over,
    }


def _same_value(slot: str, expected: Any, found: Any) -> bool:
    if isinstance(expected, int | float) and isinstance(found, int | float):
        return float(expected) == float(found)
    return canonical_json(expected) == canonical_json(found)


def _claim_found(expected: Expected, claims: Iterable[tuple[str, Any]]) -> bool:
    """The expected claim among the item's; a listing's company slug may be longer or shorter
    than the label's ("zhejiang-lingxi-robotics" for "lingxi-robotics")."""
    for slot, value in claims:
        if expected.slot.startswith("listing:") and slot.startswith("listing:"):
            want, got = expected.slot.removeprefix("listing:"), slot.removeprefix("listing:")
            if (want in got or got in want) and _same_value(slot, expected.value, value):
                return True
        elif slot == expected.slot and _same_value(slot, expected.value, value):
            return True
    return False


def fact_figures(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Recall of expected claims; claims nobody expected are counted, not scored."""
    expected = found = extra = 0
    misses: list[tuple[Outcome, Expected]] = []
    for o in outcomes:
        for want in o.labelled.facts:
            expected += 1
            if _claim_found(want, o.claims):
                found += 1
            else:
                misses.append((o, want))
        extra += sum(1 for slot, value in o.claims
                     if not any(_claim_found(Expected(slot, value), [(w.slot, w.value)])
                                for w in o.labelled.facts))
    return {"expected": expected, "found": found, "fact_recall": _ratio(found, expected),
            "unexpected_claims": extra, "misses": misses}


def evaluate(feeds: Sequence[Feed], rules: relevance.Rules) -> dict[str, Any]:
    """Run the pipeline on ``feeds`` and return every figure (rates are None when undefined)."""
    outcomes = run(feeds, rules)
    per_tier = {tier: relevance_figures(o for o in outcomes if o.labelled.tier == tier)
                for tier in TIERS if any(o.labelled.tier == tier for o in outcomes)}
    per_label = {label: relevance_figures(o for o in outcomes if o.labelled.relevant == label)
                 for label in RELEVANT_LABELS}
    return {"outcomes": outcomes, "relevance": relevance_figures(outcomes),
            "per_tier": per_tier, "per_label": per_label,
            "merges": merge_figures(outcomes), "facts": fact_figures(outcomes),
            "rules_version": rules.version}


def composition(feeds: Sequence[Feed]) -> dict[str, Counter[str]]:
    """How many items by language, tier, feed kind and label."""
    items = [i for f in feeds for i in f.items]
    return {
        "language": Counter(i.language for i in items),
        "tier": Counter(i.tier for i in items),
        "kind": Counter(i.kind for i in items),
        "label": Counter(i.relevant or "negative" for i in items),
    }


# -- the report -------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def report(figures: Mapping[str, Any], verbose: bool = False) -> str:
    rel, merges, facts = figures["relevance"], figures["merges"], figures["facts"]
    lines = [f"rules {figures['rules_version']}, {rel['items']} items", "",
             "| figure | value | counts |", "|---|---:|---|",
             f"| relevance precision | {_pct(rel['precision'])} | tp {rel['tp']}, fp {rel['fp']} |",
             f"| relevance recall | {_pct(rel['recall'])} | tp {rel['tp']}, fn {rel['fn']} |"]
    for label, part in figures["per_label"].items():
        lines.append(f"| recall, {label} | {_pct(part['recall'])} | "
                     f"{part['tp']} of {part['tp'] + part['fn']} |")
    for tier, part in figures["per_tier"].items():
        lines.append(f"| {tier}: precision / recall | {_pct(part['precision'])} / "
                     f"{_pct(part['recall'])} | tp {part['tp']}, fp {part['fp']}, "
                     f"fn {part['fn']} |")
    lines += [
        f"| near-duplicate merge | {_pct(merges['near_duplicate_merge'])} | "
        f"{merges['groups_merged']} of {merges['groups']} groups |",
        f"| same-event merge | {_pct(merges['same_event_merge'])} | "
        f"{merges['events_merged']} of {merges['events']} events |",
        f"| over-merged stories | {merges['over_merged']:5d} | of {merges['stories']} stories |",
        f"| fact recall | {_pct(facts['fact_recall'])} | {facts['found']} of "
        f"{facts['expected']} claims ({facts['unexpected_claims']} unexpected) |",
    ]
    if verbose:
        lines += ["", *_misses(figures)]
    return "\n".join(lines)


def _describe(o: Outcome) -> str:
    return f"[{o.labelled.feed}] {o.labelled.item.title[:90]}"


def _joined(o: Outcome) -> str:
    return f" <- {o.joined_by}" if o.joined_by else ""


def _misses(figures: Mapping[str, Any]) -> list[str]:
    outcomes: list[Outcome] = figures["outcomes"]
    merges, facts = figures["merges"], figures["facts"]
    lines = ["Relevance misses (labelled relevant, not found):"]
    lines += [f"  {o.labelled.relevant:7} {_describe(o)} — {o.reason}" for o in outcomes
              if o.labelled.truly_relevant and not o.predicted]
    lines.append("False positives (labelled negative, found relevant):")
    lines += [f"  {_describe(o)} — {o.reason}" for o in outcomes
              if o.predicted and not o.labelled.truly_relevant]
    for title, label, names in (("Near-duplicate groups split", "group", merges["split_groups"]),
                                ("Same-event groups split", "event", merges["split_events"])):
        lines.append(f"{title}:")
        for name in names:
            lines.append(f"  {name}:")
            lines += [f"    story {o.story or '-'} {_describe(o)}{_joined(o)}" for o in outcomes
                      if o.labelled.truly_relevant and getattr(o.labelled, label) == name]
    lines.append("Over-merged stories:")
    for story in merges["over_merged_ids"]:
        lines.append(f"  {story}:")
        lines += [f"    event {o.labelled.event} {_describe(o)}{_joined(o)}"
                  for o in outcomes if o.story == story]
    lines.append("Facts missed (expected slot = value; what the item gave):")
    for o, want in facts["misses"]:
        got = ", ".join(f"{s}={canonical_json(v)}" for s, v in o.claims) or "nothing"
        lines.append(f"  {want.slot}={canonical_json(want.value)} {_describe(o)} — got {got}")
    return lines


def _jsonable(figures: Mapping[str, Any]) -> dict[str, Any]:
    merges = {k: v for k, v in figures["merges"].items() if not k.endswith(("_ids",))}
    facts = {k: v for k, v in figures["facts"].items() if k != "misses"}
    return {"rules_version": figures["rules_version"], "relevance": figures["relevance"],
            "per_tier": figures["per_tier"], "per_label": figures["per_label"],
            "merges": merges, "facts": facts}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", type=Path, default=SET_DIR, help="directory of feed files")
    parser.add_argument("--rules", type=Path, default=None,
                        help="relevance rules (default: the packaged seeds/relevance.toml)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list the misses")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    feeds = load_set(args.set)
    figures = evaluate(feeds, relevance.load_rules(args.rules))
    counts = composition(feeds)
    print("set: " + "; ".join(f"{name} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                              for name, c in counts.items()))
    print(report(figures, verbose=args.verbose))
    if args.json is not None:
        args.json.write_text(json.dumps(_jsonable(figures), indent=2, default=str) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
