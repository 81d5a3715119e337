"""What news adds to a policy's history: the claims its sources make, and analysts' decisions.

News never sets the state directly. Each extracted fact is kept as itself (a ``news:`` slot,
for the follow-up list) and, when it states a claim, as one source of that claim (a
``claim:ID`` slot holding one entry per source event). Analysts' decisions are ``decision:ID``
entries. Which claims are accepted is settled when the state is read (``tracker.claim_state``),
from these, the publishers' tiers and the acceptance policy in force. Retracting a source's
event drops that source, so a claim left with none is gone.

News arrives without end, so what it adds is bounded: the ``NEWS_FACTS_KEPT`` latest facts, per
slot the ``CLAIMS_PER_SLOT`` latest claims (and any an analyst decided), and per claim its
``SOURCES_PER_CLAIM`` first sources (the ones its acceptance rests on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.catalogue import CLAIM_ACCEPTED
from tracker.events import RecordedEvent
from tracker.projections.shared import History, assertion, prune, push

#: How many extracted news facts a policy document keeps.
NEWS_FACTS_KEPT = 50
#: Claims kept per slot, and sources kept per claim.
CLAIMS_PER_SLOT = 20
SOURCES_PER_CLAIM = 10

CLAIM = "claim:"
NEWS = "news:"
DECISION = "decision:"


def fold_extracted(history: History, event: RecordedEvent, data: Mapping[str, Any], *,
                   prune_news: bool = True) -> None:
    """Record an extracted fact, and the claim it states (if any) with this source. Without
    ``prune_news`` the news slots may run past ``NEWS_FACTS_KEPT`` until ``prune_news_facts``:
    each fact has a slot of its own that nothing reads while folding, so pruning later keeps
    the same ones, provided it runs before a retraction and before the document is built."""
    push(history, f"{NEWS}{event.position:012d}", assertion(event, {
        "story_id": data.get("story_id"), "kind": data.get("kind"), "value": data.get("value"),
        "sentence": data.get("sentence"), "confidence": data.get("confidence")}))
    if prune_news:
        prune_news_facts(history)
    claim_id = data.get("claim_id")
    if not claim_id or not data.get("slot"):
        return
    slot = f"{CLAIM}{claim_id}"
    if len(history.get(slot, ())) >= SOURCES_PER_CLAIM:
        return
    push(history, slot, assertion(event, {
        "claim_id": claim_id, "slot": data["slot"], "value": data.get("claim_value"),
        "context": bool(data.get("context")), "kind": data.get("kind"),
        "publisher": data.get("publisher") or data.get("feed") or "unknown",
        "tier": data.get("tier"), "evidence": data.get("sentence") or "",
        "hedged": bool(data.get("hedged")), "hedge": data.get("hedge"),
        "as_of_stated": bool(data.get("as_of_stated")), "link": data.get("link"),
        "feed": data.get("feed"), "item_key": data.get("item_key"),
        "story_id": data.get("story_id")}))
    _bound_claims(history, str(data["slot"]))


def prune_news_facts(history: History) -> None:
    """Keep the ``NEWS_FACTS_KEPT`` latest news facts."""
    prune(history, NEWS, NEWS_FACTS_KEPT)


def fold_decision(history: History, event: RecordedEvent, data: Mapping[str, Any]) -> None:
    push(history, f"{DECISION}{data['claim_id']}", assertion(event, {
        "verdict": "accepted" if event.type == CLAIM_ACCEPTED else "rejected",
        "note": data.get("note"), "reason": data.get("reason"),
        "actor": event.meta.get("actor")}))


def _bound_claims(history: History, claim_slot: str) -> None:
    """Keep a slot's ``CLAIMS_PER_SLOT`` latest claims, and every claim an analyst decided."""
    undecided = [s for s, entries in history.items()
                 if s.startswith(CLAIM) and entries[0]["value"]["slot"] == claim_slot
                 and f"{DECISION}{s.removeprefix(CLAIM)}" not in history]
    if len(undecided) <= CLAIMS_PER_SLOT:
        return
    undecided.sort(key=lambda s: history[s][-1]["position"], reverse=True)
    for slot in undecided[CLAIMS_PER_SLOT:]:
        del history[slot]


def claims(history: History) -> list[dict[str, Any]]:
    """Each claim with its sources, oldest claim first."""
    out = []
    for slot, entries in history.items():
        if not slot.startswith(CLAIM) or not entries:
            continue
        first = entries[0]
        value = first["value"]
        earliest = min(entries, key=lambda e: e["occurred_start"])
        out.append({
            "claim_id": value["claim_id"], "slot": value["slot"], "value": value["value"],
            "context": value["context"], "kind": value["kind"],
            "as_of": earliest["occurred_at"], "precision": earliest["precision"],
            "as_of_start": earliest["occurred_start"],
            "sources": [{"position": e["position"], "as_of": e["occurred_at"],
                         "as_of_start": e["occurred_start"], "precision": e["precision"],
                         **{k: e["value"][k] for k in (
                             "publisher", "tier", "evidence", "hedged", "hedge", "as_of_stated",
                             "link", "feed", "item_key", "story_id")}}
                        for e in entries]})
    out.sort(key=lambda c: c["sources"][0]["position"])
    return out


def decisions(history: History) -> dict[str, dict[str, Any]]:
    """The latest analyst decision on each claim."""
    return {slot.removeprefix(DECISION): {**entries[-1]["value"],
                                          "position": entries[-1]["position"]}
            for slot, entries in history.items() if slot.startswith(DECISION) and entries}
