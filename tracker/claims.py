"""Claims: what one source says about one real-world quantity, and whether the record accepts it.

A claim names a slot (one per real-world quantity: the mechanism's lifecycle status, the firms
it has served, a tariff rate by imposer and target...), a value, and the world date it holds
for. The state changes only through accepted claims: an official source, independent
corroboration, or an analyst. Everything here is pure.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from tracker.dates import truncate

#: Source tiers, strongest first.
TIERS: Final = ("official", "wire", "press", "aggregator", "unrated")
DEFAULT_TIER: Final = "unrated"

_RANK: Final = {tier: len(TIERS) - i for i, tier in enumerate(TIERS)}


def tier_rank(tier: str | None) -> int:
    """Higher is stronger; an unknown tier ranks with ``unrated``."""
    return _RANK.get(tier or DEFAULT_TIER, _RANK[DEFAULT_TIER])


def is_tier(text: str) -> bool:
    return text in _RANK


# -- the acceptance policy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptancePolicy:
    """When a claim is accepted without an analyst. Versioned: every decision names it."""

    version: str
    #: A source of at least this tier that states the claim (not hedged) is enough.
    authoritative_tier: str = "official"
    #: Or this many independent sources of at least ``corroborating_tier``.
    corroborating_tier: str = "press"
    corroborating_sources: int = 2

    def as_data(self) -> dict[str, Any]:
        return {"version": self.version, "authoritative_tier": self.authoritative_tier,
                "corroborating_tier": self.corroborating_tier,
                "corroborating_sources": self.corroborating_sources}


class PolicyError(ValueError):
    """An acceptance policy file or event that cannot be used; one line."""


def policy_from_data(data: Mapping[str, Any], where: str = "acceptance policy"
                     ) -> AcceptancePolicy:
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyError(f"{where}: 'version' must be a non-empty string")
    policy = AcceptancePolicy(
        version=version.strip(),
        authoritative_tier=str(data.get("authoritative_tier", "official")),
        corroborating_tier=str(data.get("corroborating_tier", "press")),
        corroborating_sources=data.get("corroborating_sources", 2))
    for name in ("authoritative_tier", "corroborating_tier"):
        if not is_tier(getattr(policy, name)):
            raise PolicyError(f"{where}: {name} must be one of {', '.join(TIERS)}")
    count = policy.corroborating_sources
    if not isinstance(count, int) or isinstance(count, bool) or count < 2:
        raise PolicyError(f"{where}: corroborating_sources must be an integer of at least 2")
    return policy


def parse_policy(text: str, where: str = "acceptance.toml") -> AcceptancePolicy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    return policy_from_data(data.get("acceptance", data), where)


# -- claims and how they are decided ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One source stating a claim: the event that recorded it and who published it."""

    position: int
    publisher: str
    tier: str
    evidence: str
    hedged: bool
    link: str | None = None
    as_of: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    slot: str
    value: Any
    as_of: datetime
    precision: str
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class AnalystDecision:
    claim_id: str
    verdict: str  # accepted | rejected
    position: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A claim's state: accepted | pending | conflict | rejected, and what decided it.

    ``current`` marks the accepted claim that holds for its slot now (the latest world date);
    an accepted claim with a later one beside it is history, not a dispute.
    """

    state: str
    decided_by: Mapping[str, Any]
    current: bool = False


STATES: Final = ("accepted", "conflict", "pending", "rejected")

_WORDS = re.compile(r"\w+")


def _text_key(evidence: str) -> str:
    """Evidence normalised so a syndicated copy of one text compares equal to the original."""
    return " ".join(_WORDS.findall(evidence.casefold()))


def independent_sources(sources: Iterable[Source]) -> list[list[Source]]:
    """Sources grouped so each group is one independent voice: one publisher, and copies of one
    text (a wire story re-run by a portal) count once whoever published them."""
    groups: list[list[Source]] = []
    by_publisher: dict[str, int] = {}
    by_text: dict[str, int] = {}
    for source in sources:
        key = _text_key(source.evidence)
        found = by_publisher.get(source.publisher.casefold())
        if found is None and key:
            found = by_text.get(key)
        if found is None:
            found = len(groups)
            groups.append([])
        groups[found].append(source)
        by_publisher.setdefault(source.publisher.casefold(), found)
        if key:
            by_text.setdefault(key, found)
    return groups


def _rule_verdict(claim: Claim, tiers: Mapping[str, str], policy: AcceptancePolicy
                  ) -> Verdict:
    stated = [s for s in claim.sources if not s.hedged]
    rated = [(s, tiers.get(s.publisher, s.tier)) for s in stated]
    authoritative = [s for s, tier in rated
                     if tier_rank(tier) >= tier_rank(policy.authoritative_tier)]
    if authoritative:
        return Verdict("accepted", {"by": "rule", "rule": f"{policy.authoritative_tier}-source",
                                    "version": policy.version,
                                    "positions": [s.position for s in authoritative]})
    strong = [s for s, tier in rated if tier_rank(tier) >= tier_rank(policy.corroborating_tier)]
    groups = independent_sources(strong)
    if len(groups) >= policy.corroborating_sources:
        return Verdict("accepted", {"by": "rule", "rule": "corroborated",
                                    "version": policy.version,
                                    "positions": [g[0].position for g in groups]})
    hedged = len(stated) < len(claim.sources)
    reason = "hedged: never accepted without an analyst" if hedged and not stated else (
        f"needs an {policy.authoritative_tier} source or {policy.corroborating_sources} "
        f"independent sources of tier {policy.corroborating_tier} or better")
    return Verdict("pending", {"by": "rule", "rule": "awaiting", "version": policy.version,
                               "reason": reason})


def same_period(a: datetime, a_precision: str, b: datetime, b_precision: str) -> bool:
    """Whether two world dates name the same time, at the coarser of their precisions."""
    coarser = max(a_precision, b_precision, key=_PRECISION_ORDER.index)
    if coarser == "undated":
        return True
    return truncate(a, coarser) == truncate(b, coarser)


_PRECISION_ORDER: Final = ("instant", "day", "month", "year", "undated")


def adjudicate(claims: Iterable[Claim], decisions: Mapping[str, AnalystDecision],
               tiers: Mapping[str, str], policy: AcceptancePolicy) -> dict[str, Verdict]:
    """Every claim's state under ``policy``, the publishers' ``tiers`` and analysts'
    ``decisions`` (which win over rules). Within a slot, an accepted value stands against a
    claim of another value for the same world date (a conflict); a later date supersedes."""
    verdicts: dict[str, Verdict] = {}
    by_slot: dict[str, list[Claim]] = {}
    live = [claim for claim in claims if claim.sources]
    for claim in live:
        by_slot.setdefault(claim.slot, []).append(claim)
    for slot_claims in by_slot.values():
        for group in _agreeing(slot_claims):
            together = replace(group[0], sources=tuple(s for c in group for s in c.sources))
            by_rule = _rule_verdict(together, tiers, policy)
            for claim in group:
                decision = decisions.get(claim.claim_id)
                verdicts[claim.claim_id] = by_rule if decision is None else Verdict(
                    decision.verdict, {"by": "analyst", "position": decision.position,
                                       "note": decision.note})
    for slot_claims in by_slot.values():
        _settle_slot(slot_claims, verdicts)
    return verdicts


def _agreeing(claims: list[Claim]) -> list[list[Claim]]:
    """Claims of one value for one period, in groups: the same fact reported with and without
    a stated date (or at day and at month precision) is corroborated by both."""
    groups: list[list[Claim]] = []
    for claim in claims:
        for group in groups:
            first = group[0]
            if first.value == claim.value and same_period(first.as_of, first.precision,
                                                          claim.as_of, claim.precision):
                group.append(claim)
                break
        else:
            groups.append([claim])
    return groups


def _standing(claim: Claim, verdict: Verdict) -> tuple[int, int]:
    """Which of two accepted claims for one date stands: an analyst's, then the earlier."""
    analyst = verdict.decided_by.get("by") == "analyst"
    first = min((s.position for s in claim.sources), default=0)
    if analyst:
        return (0, -int(verdict.decided_by.get("position") or 0))
    return (1, first)


def _settle_slot(claims: list[Claim], verdicts: dict[str, Verdict]) -> None:
    accepted = sorted((c for c in claims if verdicts[c.claim_id].state == "accepted"),
                      key=lambda c: _standing(c, verdicts[c.claim_id]))
    standing: list[Claim] = []
    for claim in accepted:
        rival = next((s for s in standing if s.value != claim.value and same_period(
            s.as_of, s.precision, claim.as_of, claim.precision)), None)
        if rival is None:
            standing.append(claim)
        else:
            verdicts[claim.claim_id] = Verdict("conflict", {
                **verdicts[claim.claim_id].decided_by, "disputes": rival.claim_id})
    for claim in claims:
        verdict = verdicts[claim.claim_id]
        if verdict.state != "pending":
            continue
        rival = next((s for s in standing if s.value != claim.value and same_period(
            s.as_of, s.precision, claim.as_of, claim.precision)), None)
        if rival is not None:
            verdicts[claim.claim_id] = Verdict("conflict", {**verdict.decided_by,
                                                            "disputes": rival.claim_id})
    if standing:
        latest = max(standing, key=lambda c: (c.as_of, _latest_position(c)))
        verdicts[latest.claim_id] = replace(verdicts[latest.claim_id], current=True)


def _latest_position(claim: Claim) -> int:
    return max((s.position for s in claim.sources), default=0)
