"""The acceptance rules, pure: official sources, corroboration, syndicated copies, hedging,
conflicts, a later world date superseding, analysts' decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.claims import (
    AcceptancePolicy,
    AnalystDecision,
    Claim,
    PolicyError,
    Source,
    adjudicate,
    independent_sources,
    parse_policy,
    same_period,
    tier_rank,
)

POLICY = AcceptancePolicy(version="test-1")
MAY_21 = datetime(2025, 5, 21, tzinfo=UTC)
JUNE_30 = datetime(2025, 6, 30, tzinfo=UTC)


def source(position: int, publisher: str, tier: str, evidence: str = "",
           hedged: bool = False) -> Source:
    return Source(position, publisher, tier, evidence or f"{publisher} says so ({position})",
                  hedged)


def claim(claim_id: str, value: object, *sources: Source, slot: str = "firms_served",
          as_of: datetime = MAY_21, precision: str = "day") -> Claim:
    return Claim(claim_id, slot, value, as_of, precision, tuple(sources))


def states(*claims: Claim, decisions: dict[str, AnalystDecision] | None = None,
           tiers: dict[str, str] | None = None) -> dict[str, str]:
    verdicts = adjudicate(claims, decisions or {}, tiers or {}, POLICY)
    return {cid: v.state for cid, v in verdicts.items()}


def test_an_official_source_is_enough() -> None:
    verdicts = adjudicate([claim("c", 12, source(1, "HKSAR Government", "official"))], {}, {},
                          POLICY)
    assert verdicts["c"].state == "accepted"
    assert verdicts["c"].decided_by == {"by": "rule", "rule": "official-source",
                                        "version": "test-1", "positions": [1]}
    assert verdicts["c"].current


def test_one_press_source_waits_and_two_independent_ones_corroborate() -> None:
    assert states(claim("c", 12, source(1, "SCMP", "press"))) == {"c": "pending"}
    verdicts = adjudicate([claim("c", 12, source(1, "SCMP", "press"),
                                 source(2, "RTHK", "press"))], {}, {}, POLICY)
    assert verdicts["c"].state == "accepted"
    assert verdicts["c"].decided_by["rule"] == "corroborated"


def test_syndicated_copies_and_one_publishers_feeds_count_once() -> None:
    wire = "The mechanism has served 12 firms, the bureau said on Wednesday."
    copies = claim("c", 12, source(1, "Reuters", "wire", wire),
                   source(2, "Yahoo Finance", "press", wire.upper() + "  "),
                   source(3, "Reuters", "wire", "A different write-up by the same wire."))
    assert len(independent_sources(copies.sources)) == 1
    assert states(copies) == {"c": "pending"}


def test_aggregators_and_unrated_blogs_do_not_corroborate() -> None:
    assert states(claim("c", 12, source(1, "Google News", "aggregator"),
                        source(2, "Some blog", "unrated"),
                        source(3, "Another blog", "unrated"))) == {"c": "pending"}


def test_hedged_claims_never_auto_accept_even_from_official_sources() -> None:
    verdicts = adjudicate([claim("c", "suspended", source(1, "Gov", "official", hedged=True),
                                 slot="lifecycle")], {}, {}, POLICY)
    assert verdicts["c"].state == "pending"
    assert "hedged" in verdicts["c"].decided_by["reason"]


def test_another_value_for_the_same_date_is_a_conflict_and_the_accepted_value_stands() -> None:
    official = claim("official", 40, source(1, "Gov", "official"), as_of=JUNE_30)
    rumour = claim("rumour", 95, source(2, "Blog", "unrated", hedged=True), as_of=JUNE_30)
    verdicts = adjudicate([official, rumour], {}, {}, POLICY)
    assert verdicts["official"].state == "accepted" and verdicts["official"].current
    assert verdicts["rumour"].state == "conflict"
    assert verdicts["rumour"].decided_by["disputes"] == "official"


def test_dates_are_compared_at_the_coarser_precision() -> None:
    month = claim("month", 95, source(2, "Blog", "unrated"), as_of=datetime(2025, 6, 1,
                                                                            tzinfo=UTC),
                  precision="month")
    official = claim("official", 40, source(1, "Gov", "official"), as_of=JUNE_30)
    assert states(official, month) == {"official": "accepted", "month": "conflict"}
    assert same_period(JUNE_30, "day", datetime(2025, 6, 1, tzinfo=UTC), "month")
    assert not same_period(JUNE_30, "day", MAY_21, "day")


def test_a_later_world_date_supersedes_without_a_dispute() -> None:
    may = claim("may", 12, source(1, "Gov", "official"), as_of=MAY_21)
    june = claim("june", 40, source(2, "Gov", "official"), as_of=JUNE_30)
    verdicts = adjudicate([june, may], {}, {}, POLICY)
    assert {c: v.state for c, v in verdicts.items()} == {"may": "accepted", "june": "accepted"}
    assert verdicts["june"].current and not verdicts["may"].current


def test_two_accepted_values_for_one_date_keep_the_first_and_dispute_the_second() -> None:
    first = claim("first", 40, source(1, "Gov", "official"), as_of=JUNE_30)
    second = claim("second", 45, source(5, "SCMP", "press"), source(6, "RTHK", "press"),
                   as_of=JUNE_30)
    assert states(first, second) == {"first": "accepted", "second": "conflict"}


def test_an_analyst_decides_over_the_rules() -> None:
    rumour = claim("rumour", 95, source(2, "Blog", "unrated"), as_of=JUNE_30)
    official = claim("official", 40, source(1, "Gov", "official"), as_of=JUNE_30)
    accepted = {"rumour": AnalystDecision("rumour", "accepted", 9, "confirmed by phone")}
    verdicts = adjudicate([official, rumour], accepted, {}, POLICY)
    assert verdicts["rumour"].state == "accepted" and verdicts["rumour"].current
    assert verdicts["rumour"].decided_by == {"by": "analyst", "position": 9,
                                             "note": "confirmed by phone"}
    assert verdicts["official"].state == "conflict"
    rejected = {"official": AnalystDecision("official", "rejected", 9, "misprint")}
    assert states(official, decisions=rejected) == {"official": "rejected"}


def test_a_publisher_re_rated_by_an_analyst_counts_at_its_new_tier() -> None:
    blog = claim("c", 12, source(1, "Bureau blog", "unrated"))
    assert states(blog) == {"c": "pending"}
    assert states(blog, tiers={"Bureau blog": "official"}) == {"c": "accepted"}


def test_a_claim_with_no_sources_left_is_withdrawn() -> None:
    assert states(claim("c", 12)) == {}


def test_tiers_rank_and_the_policy_file_is_checked() -> None:
    assert tier_rank("official") > tier_rank("wire") > tier_rank("press") \
        > tier_rank("aggregator") > tier_rank("unrated") == tier_rank("nonsense")
    policy = parse_policy('[acceptance]\nversion = "v9"\ncorroborating_sources = 3\n')
    assert (policy.version, policy.corroborating_sources) == ("v9", 3)
    with pytest.raises(PolicyError, match="corroborating_tier"):
        parse_policy('version = "v"\ncorroborating_tier = "blog"\n')
    with pytest.raises(PolicyError, match="version"):
        parse_policy("corroborating_sources = 2\n")
