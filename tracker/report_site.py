"""The static report site (`tracker report --format html`): what its pages show, and putting
them in place.

:func:`gather` reads the log (the status report, the stories, the recorded times the change
feed needs) and :func:`site_report` shapes it into one plain, JSON-ready value, pure, so the
pages are a function of it alone (``tracker.render.html``). :func:`publish` writes the rendered
files into a new directory beside the target and then swaps it in, so a reader never finds half
a site and a re-run replaces the last one whole.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from tracker.app import Tracker
from tracker.catalogue import RETRACTED, STORY_CORRECTION_TYPES, SUBSCRIPTION_TYPES
from tracker.claim_state import Settled
from tracker.dates import iso, parse_date, period_end, utc
from tracker.dossier import KNOWN_NOW_TYPES, labelled, state_docs
from tracker.errors import UsageError
from tracker.events import canonical_json, deterministic_id
from tracker.ingest.subscriptions import current
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all, wanted_types
from tracker.projections.stories import Stories, combined
from tracker.reports import policy_report, status_report
from tracker.story_identity import story_docs
from tracker.when import When

#: The file a report directory holds so a re-run knows it may replace it (and nothing else).
MARKER: Final = ".tracker-report"
STORIES = Stories()
_WEEK = timedelta(days=7)


# -- gathering --------------------------------------------------------------------------------


def gather(tracker: Tracker, *, policy: str | None = None, as_of: When | None = None,
           world_as_of: When | None = None) -> dict[str, Any]:
    """Everything the site shows, now or as of a past date on either time axis (as
    `tracker status` and `tracker news` read them)."""
    docs = state_docs(tracker, as_of=as_of, world_as_of=world_as_of)
    policies = [d for d in docs.policies if policy is None or d["policy_id"] == policy]
    if policy is not None and not policies:
        known = ", ".join(str(d["policy_id"]) for d in docs.policies) or "none"
        raise UsageError(f"no policy {policy!r} is tracked (tracked: {known})")
    settled = {pid: s for pid, s in docs.settled().items()
               if any(d["policy_id"] == pid for d in policies)}
    status = status_report(policies, docs.actors, position=docs.position,
                           as_of=iso(as_of.recorded_until) if as_of else None,
                           world_as_of=iso(world_as_of.before) if world_as_of else None,
                           settled=settled)
    status = labelled(status, as_of=as_of, world_as_of=world_as_of)
    dossier_facts = {d["policy_id"]: policy_report(d, docs.actors)["facts"] for d in policies}
    recorded_until = as_of.recorded_until if as_of else None
    subs = current(tracker.store.read(types=SUBSCRIPTION_TYPES, recorded_until=recorded_until))
    outlets = {name: (sub.publisher, sub.tier) for name, sub in subs.items()}
    stories = _stories(tracker, as_of, world_as_of)
    changes = changes_of(policies, dossier_facts, settled)
    recorded = _recorded_times(tracker, {c["position"] for c in changes})
    claims = {pid: [s.row(cid) for ids in s.slots.values() for cid in ids]
              for pid, s in settled.items()}
    return site_report(status, stories, changes, recorded, outlets, docs.tiers,
                       dossier_facts=dossier_facts, claims=claims, policy=policy,
                       world_end=world_as_of.before if world_as_of else None)


def _stories(tracker: Tracker, as_of: When | None, world_as_of: When | None) -> dict[str, Doc]:
    """The story documents as analysts see them, replayed in memory for a past date (a
    retraction, merge or split counts in a world-as-of view whatever its date, as in status)."""
    if as_of is None and world_as_of is None:
        return combined(story_docs(tracker))
    known = tracker.store.read(types=sorted(wanted_types(STORIES)),
                               recorded_until=as_of.recorded_until if as_of else None)
    always = KNOWN_NOW_TYPES | STORY_CORRECTION_TYPES | {RETRACTED}
    events = [e for e in known if world_as_of is None or e.type in always
              or world_as_of.reached(e.occurred_until, e.occurred_precision)]
    return combined(fold_all(STORIES, events))


def _recorded_times(tracker: Tracker, positions: Iterable[int]) -> dict[int, str]:
    """When the log recorded each of ``positions`` (the change feed's ``updated``)."""
    out: dict[int, str] = {}
    with tracker.engine.connect() as conn:
        for position in sorted(positions):
            event = tracker.store.get(position, conn=conn)
            if event is not None:
                out[position] = iso(event.recorded_at)
    return out


# -- shaping (pure) ---------------------------------------------------------------------------


def site_report(status: Mapping[str, Any], stories: Mapping[str, Doc],
                changes: Sequence[Mapping[str, Any]], recorded: Mapping[int, str],
                outlets: Mapping[str, tuple[str, str]], tiers: Mapping[str, str], *,
                dossier_facts: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                claims: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                policy: str | None = None, world_end: datetime | None = None,
                ) -> dict[str, Any]:
    """The site as one value: the status report's policies, each with its chart and its
    stories, every story with the outlet behind each source, and the accepted changes.

    ``dossier_facts`` (each policy's facts as the dossier set them, before claims moved
    them) and ``claims`` (each policy's claim rows) give the chart its rate steps."""
    rows = story_rows(stories, outlets, tiers)
    if policy is not None:
        rows = [s for s in rows if policy in s["policies"]]
    policies = []
    for p in status.get("policies") or ():
        own = [s for s in rows if p["id"] in s["policies"]]
        series = rate_series((dossier_facts or {}).get(p["id"]) or (),
                             (claims or {}).get(p["id"]) or ())
        policies.append({**p, "stories": [s["id"] for s in own],
                         "chart": chart(milestones(p), series, weekly_volume(own), world_end)})
    return {
        "position": status.get("position"), "as_of": status.get("as_of"),
        "world_as_of": status.get("world_as_of"), "policy": policy,
        **{k: status[k] for k in ("as_of_label", "world_as_of_label") if k in status},
        "policies": policies, "stories": rows,
        "changes": [{**c, "recorded_at": recorded.get(c["position"])}
                    for c in sorted(changes, key=lambda c: (-c["position"], c["id"]))],
    }


def story_rows(docs: Mapping[str, Doc], outlets: Mapping[str, tuple[str, str]],
               tiers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Stories newest first (as `tracker news` lists them), each source with its feed's
    publisher and that publisher's tier."""
    ordered = sorted(((STORIES.sort_key(k, d), d) for k, d in docs.items()), reverse=True)
    out = []
    for _key, d in ordered:
        sources = []
        for s in d.get("sources") or ():
            feed = str(s.get("feed") or "")
            publisher, tier = outlets.get(feed, (feed, "unrated"))
            sources.append({"feed": feed, "publisher": publisher,
                            "tier": tiers.get(publisher, tier), "link": s.get("link"),
                            "title": s.get("title"), "position": s.get("position")})
        out.append({
            "id": str(d.get("story_id")), "title": d.get("title"), "url": d.get("url"),
            "published": d.get("published"),
            "published_source": d.get("published_source") or "feed",
            "summary": d.get("summary") or "", "score": d.get("score"),
            "policies": list(d.get("policy_ids")
                             or ([d["policy_id"]] if d.get("policy_id") else [])),
            "matched": list(d.get("matched") or ()), "sources": sources,
            "facts": _distinct_facts(d.get("facts") or ()),
            "revisions": len(d.get("revisions") or ()), "position": d.get("position")})
    return out


def _distinct_facts(facts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each thing a story said once (every source that carried it states its own copy)."""
    facts = list(facts)
    if len(facts) <= 1:  # the usual story: nothing to compare (and JSON keys are not cheap)
        return [{k: f.get(k) for k in ("kind", "value", "sentence", "confidence", "position")}
                for f in facts]
    seen: set[str] = set()
    out = []
    for f in facts:
        key = canonical_json([f.get("kind"), f.get("value")])
        if key not in seen:
            seen.add(key)
            out.append({k: f.get(k) for k in ("kind", "value", "sentence", "confidence",
                                               "position")})
    return out


# -- the timeline chart -----------------------------------------------------------------------


def _instant(text: Any) -> datetime | None:
    """An ISO timestamp from the record, or None for anything else (a chart skips it)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _publications(sources: Iterable[Mapping[str, Any]]) -> list[str]:
    names = [str((s.get("citation") or {}).get("publication") or s.get("publisher") or "")
             for s in sources]
    return list(dict.fromkeys(n for n in names if n))


def rate_series(dossier_facts: Iterable[Mapping[str, Any]],
                claims: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each context rate (a slot with numbers, such as ``tariff:us:china``) as the steps it
    took in world time: the dossier's sourced values (``dossier_facts``: a policy's facts as
    the dossier set them) and every accepted claim on the slot (``claims``: claim rows),
    current or since superseded. An unsourced or unaccepted value is never a step."""
    series: dict[str, dict[str, Any]] = {}

    def add(slot: str, title: Any, unit: Any, step: dict[str, Any]) -> None:
        entry = series.setdefault(slot, {"slot": slot, "title": title or slot, "unit": None,
                                         "steps": []})
        entry["unit"] = entry["unit"] or unit or _unit(slot)
        entry["steps"].append(step)

    for fact in dossier_facts:
        value = fact.get("value")
        if not (str(fact.get("key")).startswith("context.") and isinstance(value, Mapping)):
            continue
        slot, number = value.get("slot"), _number(value.get("value"))
        at = _start_of(fact.get("occurred_at"), fact.get("precision"))
        if not slot or number is None or at is None or not fact.get("sources"):
            continue
        add(str(slot), value.get("title"), value.get("unit"), {
            "at": at, "label": fact.get("occurred_at"), "value": number,
            "qualifier": value.get("qualifier"), "sources": _publications(fact["sources"]),
            "position": max(int(s["position"]) for s in fact["sources"])})
    for claim in claims:
        slot = str(claim.get("slot"))
        number = _number(claim.get("value"))
        at = _start_of(claim.get("as_of"), claim.get("precision"))
        sources = list(claim.get("sources") or ())
        if claim.get("state") != "accepted" or number is None or at is None or not sources:
            continue
        if slot not in series and not slot.startswith(RATE_SLOTS):
            continue
        add(slot, series.get(slot, {}).get("title"), None, {
            "at": at, "label": claim.get("as_of"), "value": number, "qualifier": None,
            "sources": _publications(sources),
            "position": max(int(s["position"]) for s in sources)})
    out = []
    for entry in series.values():
        steps = _collapse(sorted(entry["steps"], key=lambda s: (s["at"], s["position"])))
        out.append({**entry, "steps": steps})
    return out


#: Claim slots that are rates even where the dossier records no context measure for them.
RATE_SLOTS: Final = ("tariff:",)


def _unit(slot: str) -> str | None:
    return "percent" if slot.startswith("tariff:") else None


def _start_of(label: Any, precision: Any) -> str | None:
    """The start of the period a date label names ("2025-04" → 1 April), as ISO text; None
    for an undated or unreadable one (a chart cannot place it)."""
    if not isinstance(label, str) or precision in (None, "undated"):
        return None
    try:
        start, exact = parse_date(label)
    except ValueError:
        return None
    return None if exact == "undated" else iso(start)


def _collapse(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One step per world date (the one recorded last), and none that repeats the value
    before it (a second source for 145% is not a change)."""
    by_date: dict[str, dict[str, Any]] = {}
    for step in steps:
        by_date[step["at"]] = step
    out: list[dict[str, Any]] = []
    for step in by_date.values():
        if out and out[-1]["value"] == step["value"]:
            continue
        out.append(step)
    return out


def milestones(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dated milestones, in world order, numbered for the chart's key."""
    found = []
    for m in policy.get("milestones") or ():
        label, precision = m.get("occurred_at"), m.get("precision")
        if not isinstance(label, str) or precision in (None, "undated"):
            continue
        try:
            start, exact = parse_date(label)
        except ValueError:
            continue
        if exact == "undated":
            continue
        found.append({"title": m.get("title"), "kind": m.get("kind"), "label": label,
                      "precision": precision, "at": iso(start),
                      "until": iso(period_end(start, exact)),
                      "sources": _publications(m.get("sources") or ())})
    found.sort(key=lambda m: (m["at"], m["title"] or ""))
    return [{**m, "n": i} for i, m in enumerate(found, 1)]


def weekly_volume(stories: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stories per week (weeks start on Monday, UTC), by the day each was published."""
    days: dict[str, int] = {}
    for story in stories:
        published = story.get("published")
        if isinstance(published, str):
            day = published[:10]  # ISO text: the day is its first ten characters
            days[day] = days.get(day, 0) + 1
    counts: dict[datetime, int] = {}
    for day, count in days.items():
        when = _instant(day)
        if when is None:
            continue
        monday = when - timedelta(days=when.weekday())
        counts[monday] = counts.get(monday, 0) + count
    return [{"start": iso(week), "count": counts[week]} for week in sorted(counts)]


def chart(marks: list[dict[str, Any]], series: list[dict[str, Any]],
          weeks: list[dict[str, Any]], world_end: datetime | None = None) -> dict[str, Any]:
    """What the timeline chart draws, and the world-time span it covers: from the first thing
    dated to the last (a week on), or to the world-as-of date when one was asked for."""
    points = [_instant(m["at"]) for m in marks] + [_instant(m["until"]) for m in marks]
    points += [_instant(s["at"]) for line in series for s in line["steps"]]
    points += [_instant(w["start"]) for w in weeks]
    dated = [p for p in points if p is not None]
    if not dated:
        return {"start": None, "end": None, "milestones": marks, "series": series,
                "weeks": weeks}
    start, end = min(dated), max(dated) + _WEEK
    if world_end is not None and world_end > start:
        end = world_end
    return {"start": iso(start), "end": iso(end), "milestones": marks, "series": series,
            "weeks": weeks}


# -- the change feed --------------------------------------------------------------------------

_NAMESPACE: Final = "tracker-report-change"


def changes_of(policies: Iterable[Doc], dossier_facts: Mapping[str, Sequence[Mapping[str, Any]]],
               settled: Mapping[str, Settled]) -> list[dict[str, Any]]:
    """Every accepted change the state rests on: each status the dossier recorded, each
    dossier fact as it was set, and each accepted claim (current or since superseded).

    Ids are derived from what does not move: a log position (the event that set a dossier
    value), or a claim's id, so a feed reader sees the same entry on every run.
    """
    out: list[dict[str, Any]] = []
    for doc in policies:
        pid = str(doc["policy_id"])
        title = doc.get("title")
        for entry in doc.get("status_history") or ():
            out.append(_change(pid, title, "status", "status", entry.get("status"),
                               entry.get("occurred_at"), entry.get("precision"),
                               int(entry["position"]), _change_sources(entry["sources"]),
                               ("status", str(entry["position"]))))
        for fact in dossier_facts.get(pid) or ():
            if not fact.get("sources"):
                continue
            position = max(int(s["position"]) for s in fact["sources"])
            out.append(_change(pid, title, "fact", fact["key"], fact["value"],
                               fact.get("occurred_at"), fact.get("precision"), position,
                               _change_sources(fact["sources"]),
                               ("fact", fact["key"], str(position))))
        found = settled.get(pid)
        if found is None:
            continue
        for ids in found.slots.values():
            for cid in ids:
                verdict = found.verdicts[cid]
                if verdict.state != "accepted":
                    continue
                row = found.row(cid)
                decided = verdict.decided_by
                positions = [int(p) for p in decided.get("positions") or ()]
                if decided.get("position") is not None:
                    positions.append(int(decided["position"]))
                position = max(positions or [int(s["position"]) for s in row["sources"]])
                out.append(_change(
                    pid, title, "status" if row["slot"] == "lifecycle" else "fact",
                    row["slot"], row["value"], row["as_of"], row["precision"], position,
                    [{"position": s["position"], "publication": s["publisher"],
                      "tier": s["tier"], "url": s["link"], "title": s.get("evidence")}
                     for s in row["sources"]],
                    ("claim", cid), decided_by=dict(decided)))
    return out


def _change_sources(sources: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in sources:
        c = s.get("citation") or {}
        out.append({"position": s["position"], "publication": c.get("publication"),
                    "tier": c.get("tier"), "url": c.get("url"),
                    "title": c.get("headline") or c.get("title")})
    return out


def _change(policy_id: str, title: Any, kind: str, key: str, value: Any, world: Any,
            precision: Any, position: int, sources: list[dict[str, Any]],
            identity: tuple[str, ...], decided_by: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    return {"id": f"urn:uuid:{deterministic_id(_NAMESPACE, policy_id, *identity)}",
            "policy_id": policy_id, "policy_title": title, "kind": kind, "key": key,
            "value": value, "world": world, "precision": precision, "position": position,
            "sources": sources, "decided_by": decided_by}


# -- writing ----------------------------------------------------------------------------------


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a site is gathered and rendered: tens of
    thousands of small dicts, none in a cycle, would otherwise set off full collections that
    walk them all again and again (half the time of gathering 10,000 stories)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()



def publish(files: Mapping[str, bytes], out: str | os.PathLike[str]) -> Path:
    """Write ``files`` (relative path → bytes) as the directory ``out``, whole or not at all.

    They go into a new directory beside ``out`` first, which is then renamed into place; an
    earlier report there is swapped out and removed. A directory that is not a tracker report
    (no ``MARKER``) and is not empty is refused rather than replaced.
    """
    target = Path(out).expanduser().absolute()
    _check_target(target)
    parent = target.parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=parent))
    except OSError as exc:
        raise UsageError(f"cannot write the report in {parent}: "
                         f"{exc.strerror or exc}") from None
    try:
        made = {""}
        for name, data in files.items():
            folder = os.path.dirname(name)
            if folder not in made:  # one mkdir per directory, not per file
                (staging / folder).mkdir(parents=True, exist_ok=True)
                made.add(folder)
            _write(os.path.join(staging, name), data)
        (staging / MARKER).write_text("written by `tracker report`; replaced whole by the "
                                      "next run\n", encoding="utf-8")
        staging.chmod(0o755)
        _swap_in(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise UsageError(f"cannot write the report to {target}: "
                         f"{exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _write(path: str, data: bytes) -> None:
    """A new file with ``data`` (thousands of story pages: the plain system calls)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _check_target(target: Path) -> None:
    try:
        if target.exists() and not target.is_dir():
            raise UsageError(f"-o {target}: is a file, not a directory")
        if target.is_dir() and not (target / MARKER).exists() and any(target.iterdir()):
            raise UsageError(f"-o {target}: the directory is not empty and holds no earlier "
                             "report; give a new or empty directory")
        if not target.parent.is_dir():
            raise UsageError(f"-o {target}: {target.parent} is not a directory")
    except OSError as exc:
        raise UsageError(f"-o {str(target)[:200]}: {exc.strerror or exc}") from None


def _swap_in(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an earlier report is moved aside, then removed."""
    if not target.exists():
        staging.rename(target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        staging.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
