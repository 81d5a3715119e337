"""Claims from news text: slots, values, world dates and hedges, on a hand-labelled set of
English, Traditional and Simplified Chinese items, and the date and hedge readers one by one."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.paths import INGEST_FIXTURES
from tracker.catalogue import STATUSES
from tracker.ingest.claim_text import (
    LIFECYCLE_OF,
    ClaimDraft,
    claims_of,
    hedge_in,
    place_slug,
    stated_date,
)
from tracker.ingest.extract import Fact, extract_facts

Key = tuple[str, str, str, str, bool, bool]
LABELLED = json.loads((INGEST_FIXTURES / "claims_labelled.json").read_text(encoding="utf-8"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def key(slot: str, value: Any, as_of: str, precision: str, stated: bool, hedged: bool) -> Key:
    return (slot, json.dumps(value, sort_keys=True), as_of, precision, stated, hedged)


def draft_key(draft: ClaimDraft) -> Key:
    return key(draft.slot, draft.value, draft.as_of.date().isoformat(), draft.precision,
               draft.as_of_stated, draft.hedge is not None)


def item_claims(title: str, summary: str, published: datetime) -> set[Key]:
    return {draft_key(d) for fact in extract_facts(title, summary)
            for d in claims_of(fact, published=published)}


def restates(claim: Key, expected: set[Key], published: datetime) -> bool:
    """An undated claim (publication day) repeating an expected claim's slot, value and hedge
    from no later a date: true, but it adds nothing to the labelled one."""
    slot, value, as_of, _, stated, hedged = claim
    return not stated and as_of == published.date().isoformat() and any(
        e[0] == slot and e[1] == value and e[5] == hedged and e[2] <= as_of for e in expected)


# -- the labelled set -------------------------------------------------------------------------


def test_labelled_set_is_balanced_and_well_formed() -> None:
    assert len(LABELLED) >= 40
    by_language = Counter(case["lang"] for case in LABELLED)
    assert set(by_language) == {"en", "zh-Hant", "zh-Hans"}
    assert min(by_language.values()) >= len(LABELLED) // 4
    assert sum(1 for case in LABELLED if not case["claims"]) >= 8
    assert sum(1 for case in LABELLED for c in case["claims"] if c["hedged"]) >= 8
    for case in LABELLED:
        for claim in case["claims"]:
            assert set(claim) == {"slot", "value", "as_of", "precision", "as_of_stated",
                                  "hedged"}, case["id"]
            assert claim["precision"] in ("day", "month", "year"), case["id"]


def test_precision_and_recall_on_labelled_set() -> None:
    tp = fp = fn = redundant = 0
    misses: list[str] = []
    for case in LABELLED:
        published = at(case["published"])
        expected = {key(c["slot"], c["value"], c["as_of"], c["precision"], c["as_of_stated"],
                        c["hedged"]) for c in case["claims"]}
        found = item_claims(case["title"], case["summary"], published)
        extra = found - expected
        quiet = {c for c in extra if restates(c, expected, published)}
        tp += len(found & expected)
        fn += len(expected - found)
        fp += len(extra - quiet)
        redundant += len(quiet)
        misses += [f"{case['id']} restates {c}" for c in sorted(quiet)]
        misses += [f"{case['id']} missed {c}" for c in sorted(expected - found)]
        misses += [f"{case['id']} wrong  {c}" for c in sorted(extra - quiet)]
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"\nclaims on {len(LABELLED)} labelled items: precision {precision:.3f}, "
          f"recall {recall:.3f} (tp={tp} fp={fp} fn={fn}; {redundant} undated restatements "
          f"of a labelled claim not counted)")
    for line in misses:
        print("  " + line)
    assert precision >= 0.85
    assert recall >= 0.85


# -- claims_of --------------------------------------------------------------------------------

PUBLISHED = datetime(2025, 5, 12, 9, 30, tzinfo=UTC)


def drafts(title: str, summary: str = "", published: datetime = PUBLISHED) -> list[ClaimDraft]:
    return [d for f in extract_facts(title, summary) for d in claims_of(f, published=published)]


def test_lifecycle_vocabulary_is_the_catalogue_statuses() -> None:
    assert set(LIFECYCLE_OF.values()) <= set(STATUSES)


def test_tariff_change_is_the_new_rate_from_its_effective_date() -> None:
    found = {d.slot: d for d in drafts(
        "US tariffs on Chinese goods fall to 30% from 145%, effective May 14")}
    [cut] = found.values()
    assert cut.slot == "tariff:us:china" and cut.value == 30 and cut.context
    assert cut.as_of == datetime(2025, 5, 14, tzinfo=UTC) and cut.precision == "day"
    assert cut.as_of_stated and cut.hedge is None


def test_retaliation_is_its_own_slot() -> None:
    slots = {d.slot: d.value for d in drafts(
        "", "Washington raised tariffs on Chinese imports from 84% to 145%, while Beijing "
            "retaliated with 125% tariffs on US goods.")}
    assert slots == {"tariff:us:china": 145, "tariff:china:us": 125}


def test_undated_claim_holds_from_the_publication_day() -> None:
    [draft] = drafts("Supply chain services mechanism suspended pending review",
                     published=datetime(2025, 6, 10, 22, 0, tzinfo=UTC))
    assert (draft.slot, draft.value) == ("lifecycle", "suspended")
    assert draft.as_of == datetime(2025, 6, 10, tzinfo=UTC)
    assert not draft.as_of_stated and not draft.context


def test_first_firms_give_lifecycle_and_count() -> None:
    found = {d.slot: d.value
             for d in drafts("港浙供應鏈服務機制正式運作", "首批十二家企業已獲服務。")}
    assert found == {"lifecycle": "in_force", "firms_served": 12}


def test_project_count_keeps_its_qualifier() -> None:
    [draft] = drafts("港浙簽署逾50個合作項目")
    assert draft.slot == "projects_signed"
    assert draft.value == {"count": 50, "qualifier": "more_than"}


@pytest.mark.parametrize(("text", "stage"), [
    ("宇樹科技向港交所遞表", "filed"),
    ("Sanhua prices Hong Kong IPO at top of range", "priced"),
    ("三花智控今日在港交所主板上市", "listed"),
])
def test_listing_stages(text: str, stage: str) -> None:
    [draft] = drafts(text)
    assert draft.slot.startswith("listing:") and draft.value == stage


def test_facts_without_a_slot_make_no_claim() -> None:
    assert drafts("A 34% tariff took effect at midnight") == []
    assert drafts("群核科技計劃來港上市") == []
    assert claims_of(Fact("unknown_kind", {}, "x"), published=PUBLISHED) == []


def test_hedged_telling_wins_over_a_plain_one() -> None:
    [draft] = drafts("Zhejiang supply chain services mechanism suspended",
                     "The supply chain services mechanism has been suspended, insiders claim.")
    assert draft.hedge == "insiders claim"


@pytest.mark.parametrize(("alias", "slug"), [
    ("U.S.", "us"), ("United States", "us"), ("Washington", "us"), ("美國", "us"),
    ("mainland", "china"), ("Chinese goods", "china"), ("內地", "china"), ("香港", "hong-kong"),
    ("Hong Kong", "hong-kong"), ("EU", "eu"), (None, None),
])
def test_place_slugs(alias: str | None, slug: str | None) -> None:
    assert place_slug(alias) == slug


# -- hedge_in ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("sentence", "cue"), [
    ("The mechanism has been paused, insiders claim.", "insiders claim"),
    ("Sources say the mechanism will be scrapped.", "sources say"),
    ("according to people familiar with the matter", "according to people"),
    ("The firm reportedly filed in May.", "reportedly"),
    ("The mechanism is said to be under review.", "is said to"),
    ("Rumours swirl over the mechanism", "rumours"),
    ("Tariffs could rise to 245%", "could"),
    ("The mechanism may be suspended", "may"),
    ("Mechanism May Be Suspended", "may be"),
    ("The mechanism is expected to start in May", "is expected to"),
    ("據悉，機制或將暫停", "據悉"),
    ("消息人士指美國或將下調關稅", "消息人士"),
    ("据报道，机制已暂停", "据报"),
    ("知情人士透露", "知情人士"),
    ("网传机制暂停", "网传"),
    ("市傳宇樹擬赴港上市", "市傳"),
    ("有自媒体称机制已暂停", "自媒体称"),
    ("Mechanism suspended?", "?"),
])
def test_hedge_cues(sentence: str, cue: str) -> None:
    assert hedge_in(sentence) == cue


@pytest.mark.parametrize("sentence", [
    "The cut takes effect on May 14.",
    "In May the mechanism began operating.",
    "US cuts tariffs to 30%, a move that could revive re-exports",
    "Officials said the mechanism is operating.",
    "Tariffs weigh on Hong Kong traders",
    "港浙供應鏈服務機制今日啟動",
])
def test_no_hedge(sentence: str) -> None:
    assert hedge_in(sentence) is None


# -- stated_date ------------------------------------------------------------------------------


def day(y: int, m: int, d: int = 1) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize(("sentence", "published", "expected"), [
    ("As at 30 June, 40 firms had been served", day(2025, 7, 3), (day(2025, 6, 30), "day")),
    ("as of June 30, 2024, the count was 12", day(2025, 7, 3), (day(2024, 6, 30), "day")),
    ("The cut is effective May 14", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("The rate takes effect on May 14", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("Tariffs apply from May 14", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("The two sides met on May 12", day(2025, 5, 13), (day(2025, 5, 12), "day")),
    ("The mechanism was launched in June", day(2025, 7, 3), (day(2025, 6), "month")),
    ("As at December 31, 95 firms", day(2026, 1, 2), (day(2025, 12, 31), "day")),
    ("Effective January 1, the rate rises", day(2025, 11, 20), (day(2026, 1, 1), "day")),
    ("as at end-June", day(2025, 7, 3), (day(2025, 6), "month")),
    ("The deals were signed on Friday", day(2025, 4, 26), (day(2025, 4, 25), "day")),
    ("The cut took effect on Wednesday", day(2025, 5, 14), (day(2025, 5, 14), "day")),
    ("The cut takes effect on Wednesday", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("It will start next month", day(2025, 5, 2), (day(2025, 6), "month")),
    ("截至6月30日，共有40家企業", day(2025, 7, 3), (day(2025, 6, 30), "day")),
    ("關稅5月14日起生效", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("自5月14日起生效", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("机制6月底已服务40家企业", day(2025, 7, 3), (day(2025, 6), "month")),
    ("2024年12月31日前", day(2025, 7, 3), (day(2024, 12, 31), "day")),
    ("五月十四日起", day(2025, 5, 12), (day(2025, 5, 14), "day")),
    ("宇樹科技周一遞表", day(2025, 6, 17), (day(2025, 6, 16), "day")),
    ("On May 12 the US agreed to cut tariffs to 30%, effective May 14", day(2025, 5, 12),
     (day(2025, 5, 14), "day")),
    ("Export bans have been in place since 2022", day(2025, 5, 12), (day(2022, 1), "year")),
])
def test_stated_dates(sentence: str, published: datetime,
                      expected: tuple[datetime, str]) -> None:
    assert stated_date(sentence, published) == expected


@pytest.mark.parametrize("sentence", [
    "Tariffs fall to 30% from 145%",
    "Unitree's May 14 filing drew attention",
    "The mechanism May Be Suspended",
    "港浙供應鏈服務機制今日啟動",
    "The mechanism will run for 3 months",
    "為期3個月",
    "Feb 30 is not a date, on Feb 30",
])
def test_no_stated_date(sentence: str) -> None:
    assert stated_date(sentence, day(2025, 5, 12)) is None


def test_naive_publication_time_is_read_as_utc() -> None:
    [draft] = drafts("Supply chain services mechanism suspended",
                     published=datetime(2025, 6, 10, 23, 0))
    assert draft.as_of == datetime(2025, 6, 10, tzinfo=UTC)


# -- issue 10, point 5 ------------------------------------------------------------------------


def test_both_sides_of_a_truce_fill_their_own_slots_from_the_effective_date() -> None:
    found = {d.slot: d for d in drafts(
        "", "Washington will trim duties on Chinese imports to 40% from 100%, and Beijing "
            "will lower its levies on American goods to 15% from 90%, taking effect on June 2.")}
    assert {s: d.value for s, d in found.items()} == {"tariff:us:china": 40,
                                                      "tariff:china:us": 15}
    assert all(d.as_of == datetime(2025, 6, 2, tzinfo=UTC) and d.as_of_stated
               for d in found.values())


def test_chinese_truce_and_an_aside_naming_hong_kong() -> None:
    slots = {d.slot: d.value for d in drafts(
        "", "美方將對中國貨品（包括香港貨品）的關税由80%降至40%，中方對美關稅由70%降至15%。")}
    assert slots == {"tariff:us:china": 40, "tariff:china:us": 15}


def test_headline_parties_date_and_fill_a_later_rate() -> None:
    [draft] = drafts("US prolongs China tariff pause to December",
                     "The extra tariff rate stays at 40% as at July 31.")
    assert (draft.slot, draft.value) == ("tariff:us:china", 40)
    assert draft.as_of == datetime(2025, 7, 31, tzinfo=UTC) and draft.as_of_stated


@pytest.mark.parametrize(("title", "summary", "slot", "value"), [
    ("Eight Chinese robot makers added to US Entity List", "",
     "export_control:us:china", "entity list addition"),
    ("", "美方將8家中國機械人企業列入實體清單。", "export_control:us:china",
     "entity list addition"),
    ("US licence requirement for MI308 accelerators",
     "AMD was told exports of MI308 chips to China now require a licence.",
     "export_control:us:china", "licence requirement"),
])
def test_export_control_slots(title: str, summary: str, slot: str, value: str) -> None:
    assert {(d.slot, d.value) for d in drafts(title, summary)} == {(slot, value)}


@pytest.mark.parametrize(("title", "summary", "slot", "value"), [
    ("Eleven Zhejiang exporters tap Hong Kong supply chain mechanism", "", "firms_served", 11),
    ("港浙供應鏈服務機制已服務二十五家浙企", "", "firms_served", 25),
    ("Qiantang Dynamics jumps 25% on Hong Kong debut", "", "listing:qiantang-dynamics",
     "listed"),
    ("浙港合作交流會簽署十五份協議", "", "projects_signed",
     {"count": 15, "qualifier": "exactly"}),
])
def test_headline_claims(title: str, summary: str, slot: str, value: Any) -> None:
    assert (slot, value) in [(d.slot, d.value) for d in drafts(title, summary)]


def test_a_firm_setting_up_through_the_mechanism_says_nothing_of_its_lifecycle() -> None:
    found = drafts("Haixin Biotech lists in Hong Kong",
                   "The Ningbo company used the supply chain services mechanism to set up "
                   "its Hong Kong office.")
    assert [d.slot for d in found] == ["listing:haixin-biotech"]
