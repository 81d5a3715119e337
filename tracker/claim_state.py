"""What a policy's claims settle into when the state is read: each claim's verdict, each slot's
accepted value, and the rows ``tracker claims`` and ``tracker status`` show. Pure.

The policy_state projection keeps the claims with their sources and the analysts' decisions;
the publishers' tiers and the acceptance policy in force come from the log beside it. Settling
at read time means a re-rated publisher or a withdrawn source is reflected at once, and an
``--as-of`` replay settles exactly what was known then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.claims import (
    AcceptancePolicy,
    AnalystDecision,
    Claim,
    Source,
    Verdict,
    adjudicate,
)
from tracker.dates import period_end, utc

Doc = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Settled:
    """One policy's claims with their verdicts, by slot."""

    policy_id: str
    claims: Mapping[str, Mapping[str, Any]]
    verdicts: Mapping[str, Verdict]
    tiers: Mapping[str, str]
    slots: Mapping[str, list[str]] = field(default_factory=dict)

    def current(self, slot: str) -> Mapping[str, Any] | None:
        """The accepted claim that holds for ``slot`` now, if any."""
        for claim_id in self.slots.get(slot, ()):
            if self.verdicts[claim_id].current:
                return self.claims[claim_id]
        return None

    def rows(self, slot: str, *, but: str | None = None) -> list[dict[str, Any]]:
        """Every claim on ``slot`` (except ``but``), as ``claim_row`` gives them."""
        return [self.row(cid) for cid in self.slots.get(slot, ()) if cid != but]

    def disputed(self, slot: str) -> bool:
        return any(self.verdicts[cid].state == "conflict" for cid in self.slots.get(slot, ()))

    def row(self, claim_id: str) -> dict[str, Any]:
        claim = self.claims[claim_id]
        verdict = self.verdicts[claim_id]
        sources = [source_row(s, self.tiers) for s in claim["sources"]]
        return {
            "id": claim_id, "policy_id": self.policy_id, "slot": claim["slot"],
            "value": claim["value"], "state": verdict.state, "current": verdict.current,
            "as_of": claim["as_of"], "precision": claim["precision"],
            "stated": any(not s["hedged"] for s in claim["sources"]),
            "hedged": all(s["hedged"] for s in claim["sources"]),
            "as_of_stated": any(s.get("as_of_stated") for s in claim["sources"]),
            "context": bool(claim.get("context")),
            "sources": sources, "decided_by": dict(verdict.decided_by),
        }


def source_row(source: Mapping[str, Any], tiers: Mapping[str, str]) -> dict[str, Any]:
    publisher = str(source.get("publisher") or "unknown")
    return {"position": source["position"], "publisher": publisher,
            "tier": tiers.get(publisher, source.get("tier") or "unrated"),
            "link": source.get("link"), "evidence": source.get("evidence"),
            "hedged": bool(source.get("hedged")), "hedge": source.get("hedge"),
            "as_of": source.get("as_of"), "feed": source.get("feed"),
            "story_id": source.get("story_id")}


def _start(text: str) -> datetime:
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def settle(doc: Doc, tiers: Mapping[str, str], policy: AcceptancePolicy) -> Settled:
    """Adjudicate one policy document's claims."""
    raw: dict[str, Mapping[str, Any]] = {c["claim_id"]: c for c in doc.get("claims") or ()}
    claims = [Claim(
        claim_id=cid, slot=c["slot"], value=c["value"], as_of=_start(c["as_of_start"]),
        precision=c["precision"],
        sources=tuple(Source(position=s["position"], publisher=str(s.get("publisher")),
                             tier=str(s.get("tier") or "unrated"),
                             evidence=str(s.get("evidence") or ""), hedged=bool(s["hedged"]),
                             link=s.get("link"))
                      for s in c["sources"]))
        for cid, c in raw.items()]
    decisions = {cid: AnalystDecision(cid, d["verdict"], d["position"],
                                      d.get("note") or d.get("reason"))
                 for cid, d in (doc.get("claim_decisions") or {}).items()}
    verdicts = adjudicate(claims, decisions, tiers, policy)
    slots: dict[str, list[str]] = {}
    for claim in claims:
        if claim.claim_id in verdicts:
            slots.setdefault(claim.slot, []).append(claim.claim_id)
    return Settled(str(doc.get("policy_id")), raw, verdicts, tiers, slots)


def claim_rows(settled: Iterable[Settled], state: str = "all") -> list[dict[str, Any]]:
    """Every claim of the policies, filtered by state, ordered by slot and world date."""
    out = [s.row(cid) for s in settled for ids in s.slots.values() for cid in ids]
    if state != "all":
        out = [row for row in out if row["state"] == state]
    out.sort(key=lambda r: (r["policy_id"], r["slot"], r["as_of"], r["id"]))
    return out


# -- claims in the status report -------------------------------------------------------------------


def _claim_sources(claim: Mapping[str, Any], tiers: Mapping[str, str]) -> list[dict[str, Any]]:
    """A claim's sources in the report's ``{position, citation}`` shape."""
    out = []
    for source in claim["sources"]:
        row = source_row(source, tiers)
        out.append({"position": row["position"], "citation": {
            "id": row["story_id"] or row["link"] or row["publisher"],
            "story_id": row["story_id"], "publication": row["publisher"], "tier": row["tier"],
            "url": row["link"], "evidence": row["evidence"], "hedge": row["hedge"]}})
    return out


def _supersedes(claim: Mapping[str, Any], start: str | None, precision: str | None) -> bool:
    """Whether an accepted claim holds for a world period after the dossier's own assertion
    (one for the same period with another value is a dispute, not news)."""
    if start is None or precision is None:
        return True
    end = period_end(_start(start), precision)
    return _start(claim["as_of_start"]) >= end


def _marked(rows: list[dict[str, Any]], value: Any) -> list[dict[str, Any]]:
    """Claim rows, those agreeing with ``value`` marked: support, not competition."""
    return [{**row, "agrees": row["value"] == value} for row in rows]


def _dossier_slot(fact: dict[str, Any], settled: Settled, slot: str, value: Any,
                  start: str | None, precision: str | None
                  ) -> tuple[dict[str, Any], Mapping[str, Any] | None]:
    """A dossier fact beside the claims on its slot: its state, the claims, and the accepted
    claim that supersedes it (if one holds for a later period)."""
    current = settled.current(slot)
    takes_over = (current is not None and current["value"] != value
                  and _supersedes(current, start, precision))
    shown = current["value"] if takes_over and current is not None else value
    rows = _marked(settled.rows(slot, but=current["claim_id"] if takes_over and current
                                else None), shown)
    disputed = settled.disputed(slot) or any(
        row["state"] == "accepted" and row["current"] and not row["agrees"] for row in rows)
    fact = {**fact, "state": "conflict" if disputed else "accepted", "claims": rows}
    return fact, current if takes_over else None


def _slot_fact(settled: Settled, slot: str) -> dict[str, Any]:
    current = settled.current(slot)
    state = "conflict" if settled.disputed(slot) else ("accepted" if current else "pending")
    return {
        "key": slot, "value": current["value"] if current else None,
        "sources": _claim_sources(current, settled.tiers) if current else [],
        "note": None, "state": state,
        "as_of": current["as_of"] if current else None,
        "precision": current["precision"] if current else None,
        "claims": _marked(settled.rows(slot, but=current["claim_id"] if current else None),
                          current["value"] if current else None),
    }


def merge_into_report(report: dict[str, Any], doc: Doc, settled: Settled) -> dict[str, Any]:
    """``report`` (one policy's status entry) with its state taken from accepted claims.

    Every fact gains ``state`` and ``claims``. A dossier fact whose slot has an accepted claim
    of another value for a later world period takes that value (the dossier's stays in the
    log and the history); the lifecycle status likewise; slots only news speaks to become facts
    of their own, unknown (``value`` null) until a claim on them is accepted.
    """
    slotted: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for thread, items in (doc.get("context") or {}).items():
        for m in items:
            if m.get("slot"):
                slotted[f"context.{thread}.{m['measure_id']}"] = (m["slot"], m)
    for a in doc.get("agreements") or ():
        if a.get("slot"):
            slotted[f"agreement.{a['agreement_id']}"] = (a["slot"], a)
    used: set[str] = set()
    facts = []
    for fact in report.get("facts") or ():
        fact = {**fact, "state": "accepted", "claims": []}
        found = slotted.get(fact["key"])
        if found is not None:
            slot, source = found
            used.add(slot)
            agreement = fact["key"].startswith("agreement.")
            value = ({"count": source.get("project_count"),
                      "qualifier": source.get("count_qualifier")} if agreement
                     else source.get("value"))
            fact, current = _dossier_slot(fact, settled, slot, value,
                                          source.get("occurred_start"), source.get("precision"))
            if current is not None:
                claimed = current["value"]
                fact["value"] = ({**fact["value"], **_agreement_value(claimed)} if agreement
                                 else {**fact["value"], "value": claimed, "qualifier": None,
                                       "occurred_at": current["as_of"],
                                       "precision": current["precision"]})
                fact["sources"] = _claim_sources(current, settled.tiers)
                fact.update(occurred_at=current["as_of"], precision=current["precision"],
                            occurred_note=None, estimated=False, stated=True)
        facts.append(fact)
    report = {**report, "facts": facts + [_slot_fact(settled, slot)
                                          for slot in sorted(settled.slots)
                                          if slot not in used and slot != "lifecycle"]}
    history = doc.get("status_history") or []
    latest = history[-1] if history else {}
    status_fact, current = _dossier_slot(
        {}, settled, "lifecycle", report.get("status"), latest.get("occurred_start"),
        latest.get("precision"))
    if current is not None:
        report["status"] = current["value"]
        report["status_note"] = f"accepted claim, as at {current['as_of']}"
        report["status_sources"] = _claim_sources(current, settled.tiers)
        report["status_dating"] = {"occurred_at": current["as_of"],
                                   "precision": current["precision"]}
    report["status_state"] = status_fact["state"]
    report["status_claims"] = status_fact["claims"]
    return report


def _agreement_value(claimed: Any) -> dict[str, Any]:
    if isinstance(claimed, Mapping):
        return {"project_count": claimed.get("count"),
                "count_qualifier": claimed.get("qualifier") or "exactly"}
    return {"project_count": claimed, "count_qualifier": "exactly"}
