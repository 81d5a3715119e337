"""The static report site (`tracker report --format html`): what its pages show.

:func:`gather` reads the log (the status report, the stories, the recorded times the change
feed needs) and :func:`site_report` shapes it into one plain, JSON-ready value, pure, so the
pages are a function of it alone (``tracker.render.html``). The timeline chart's data is
``tracker.report_chart``; putting the rendered files in place is ``tracker.report_publish``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from tracker.app import Tracker
from tracker.catalogue import RETRACTED, STORY_CORRECTION_TYPES, SUBSCRIPTION_TYPES
from tracker.claim_state import Settled
from tracker.dates import iso
from tracker.dossier import KNOWN_NOW_TYPES, labelled, state_docs
from tracker.errors import UsageError
from tracker.events import deterministic_id
from tracker.ingest.subscriptions import current
from tracker.news import distinct_facts
from tracker.projections.base import Doc
from tracker.projections.fold import fold_all, wanted_types
from tracker.projections.stories import Stories, combined
from tracker.report_chart import chart, milestones, rate_series, weekly_volume
from tracker.reports import policy_report, status_report
from tracker.story_identity import story_docs
from tracker.when import When

STORIES = Stories()
#: What the site shows of each fact a story states.
_FACT_FIELDS: Final = ("kind", "value", "sentence", "confidence", "position")


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
    if len(facts) > 1:  # the usual story has one: nothing to compare (JSON keys are not cheap)
        facts = distinct_facts(facts)
    return [{k: f.get(k) for k in _FACT_FIELDS} for f in facts]


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
