"""Fact extraction from realistic English and Chinese sentences, and sentences with no fact."""

from __future__ import annotations

from typing import Any

import pytest

from tracker.ingest.extract import Fact, extract_facts, split_sentences


def facts(title: str, summary: str = "", kind: str | None = None) -> list[Fact]:
    found = extract_facts(title, summary)
    return [f for f in found if kind is None or f.kind == kind]


def values(title: str, summary: str = "", kind: str | None = None) -> list[dict[str, Any]]:
    return [f.value for f in facts(title, summary, kind)]


def test_sentences_split_in_both_languages() -> None:
    text = ("The U.S. Commerce Department acted on Monday. It added rules! Mr. Lee spoke at "
            "3 p.m. today. Rates rose 2.5% overall. 美國宣布新措施。香港回應？「好」他說！")
    assert split_sentences(text) == [
        "The U.S. Commerce Department acted on Monday.", "It added rules!",
        "Mr. Lee spoke at 3 p.m. today.", "Rates rose 2.5% overall.", "美國宣布新措施。",
        "香港回應？", "「好」他說！"]


# -- tariff_rate ------------------------------------------------------------------------------


def test_tariff_rate_english() -> None:
    [fact] = facts("US raises tariffs on Chinese goods to 145%", kind="tariff_rate")
    assert fact.value == {"percent": 145, "imposer": "US", "target": "China"}
    assert fact.sentence == "US raises tariffs on Chinese goods to 145%"
    assert fact.confidence >= 0.85


def test_tariff_rate_from_to_and_retaliation_in_one_sentence() -> None:
    found = values("", "Washington raised tariffs on Chinese imports from 84% to 145%, while "
                       "Beijing retaliated with 125% tariffs on US goods.", kind="tariff_rate")
    assert {"percent": 145, "imposer": "US", "target": "China", "previous_percent": 84} in found
    assert {"percent": 125, "imposer": "China", "target": "US"} in found


def test_tariff_rate_up_to_and_by() -> None:
    [value] = values("Tariffs of up to 145% imposed by the U.S. on Chinese imports weigh on "
                     "Hong Kong traders", kind="tariff_rate")
    assert value == {"percent": 145, "imposer": "US", "target": "China", "qualifier": "up_to"}


def test_tariff_rate_chinese() -> None:
    [fact] = facts("美國對中國商品加徵的關稅上調至145%", kind="tariff_rate")
    assert fact.value == {"percent": 145, "imposer": "US", "target": "China"}
    [spelled] = values("美国对华关税税率提高至百分之一百四十五", kind="tariff_rate")
    assert spelled["percent"] == 145 and spelled["imposer"] == "US"


def test_tariff_rate_bare_is_less_confident() -> None:
    [fact] = facts("A 34% tariff took effect at midnight", kind="tariff_rate")
    assert fact.value["percent"] == 34 and fact.value["imposer"] is None
    assert fact.confidence < 0.7


@pytest.mark.parametrize("text", [
    "Hang Seng index fell 3% as tariff worries mount",
    "Hong Kong exports rose 18% in March",
    "Tariffs dominate the agenda at the Ningbo forum",
    "港股跌3% 市場憂慮關稅",
])
def test_no_tariff_rate(text: str) -> None:
    assert values(text, kind="tariff_rate") == []


# -- project_count ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "count", "qualifier"), [
    ("Hong Kong and Zhejiang signed agreements covering more than 50 projects", 50, "more_than"),
    ("About 30 cooperation projects were signed at the Ningbo forum", 30, "about"),
    ("The two sides inked 52 deals worth HK$10 billion", 52, "exactly"),
    ("Officials signed 50+ projects during the visit", 50, "more_than"),
    ("港浙簽署逾50個合作項目", 50, "more_than"),
    ("雙方在寧波論壇簽署50多個項目", 50, "more_than"),
    ("兩地企業簽約約三十個項目", 30, "about"),
    ("论坛上共签署52个合作项目", 52, "exactly"),
])
def test_project_count(text: str, count: int, qualifier: str) -> None:
    [fact] = facts(text, kind="project_count")
    assert fact.value == {"count": count, "qualifier": qualifier}
    assert fact.sentence == text


@pytest.mark.parametrize("text", [
    "The government has 50 projects in the pipeline for public housing",
    "Over 50 people attended the lecture",
    "香港有50個公屋項目正在興建",
])
def test_no_project_count(text: str) -> None:
    assert values(text, kind="project_count") == []


# -- listing ----------------------------------------------------------------------------------


def test_listing_known_company_filed() -> None:
    [fact] = facts("Unitree files for Hong Kong IPO", "Hangzhou-based robot maker Unitree has "
                   "filed for a listing on the Hong Kong stock exchange.", kind="listing")
    assert fact.value == {"company": "Unitree", "venue": "Hong Kong", "stage": "filed"}
    assert fact.confidence >= 0.8


def test_listing_unknown_company_from_capitalised_name() -> None:
    [value] = values("Zhejiang start-up Lingxi Robotics files for Hong Kong listing",
                     kind="listing")
    assert value == {"company": "Lingxi Robotics", "venue": "Hong Kong", "stage": "filed"}


def test_listing_chinese_and_stages() -> None:
    assert values("宇樹科技向港交所遞表", kind="listing") == [
        {"company": "Unitree", "venue": "Hong Kong", "stage": "filed"}]
    assert values("群核科技計劃來港上市", kind="listing") == [
        {"company": "Manycore", "venue": "Hong Kong", "stage": "planned"}]
    assert values("Deep Robotics shares jumped 40% on their Hong Kong debut",
                  kind="listing") == [
        {"company": "Deep Robotics", "venue": "Hong Kong", "stage": "listed"}]


@pytest.mark.parametrize("text", [
    "Unitree begins tutoring for Shanghai STAR Market IPO",
    "Hong Kong IPO market rebounds in first quarter",
    "Hong Kong-listed firm plans delisting after privatisation offer",
    "宇樹科技擬於科創板上市",
])
def test_no_listing(text: str) -> None:
    assert values(text, kind="listing") == []


# -- export_control ---------------------------------------------------------------------------


def test_export_control_new_measure() -> None:
    [fact] = facts("US adds new export controls on Nvidia H20 chips to China",
                   kind="export_control")
    assert fact.value == {"imposer": "US", "items": ["Nvidia", "H20", "chips"],
                          "target": "China", "action": "tightened"}
    assert fact.confidence >= 0.85


def test_export_control_licence_requirement_and_chinese() -> None:
    [value] = values("Nvidia says US government requires licence for H20 exports to China",
                     kind="export_control")
    assert value["imposer"] == "US" and "H20" in value["items"]
    assert value["target"] == "China"
    [zh] = values("美國商務部收緊對華芯片出口管制", kind="export_control")
    assert zh == {"imposer": "US", "items": ["chips"], "target": "China", "action": "tightened"}
    [rare] = values("China imposes export controls on seven rare earths", kind="export_control")
    assert rare["imposer"] == "China" and rare["items"] == ["rare earths"]


def test_export_control_easing() -> None:
    [value] = values("US eases export curbs, lifting licence requirements on some chips",
                     kind="export_control")
    assert value["action"] == "eased"


@pytest.mark.parametrize("text", [
    "US export bans on advanced Nvidia chips have been in place since 2022.",
    "Nvidia shares rose 3% on strong earnings",
    "自2022年以來美國對先進芯片實施出口管制",
])
def test_no_export_control(text: str) -> None:
    assert values(text, kind="export_control") == []


# -- mechanism_status -------------------------------------------------------------------------


def test_mechanism_operational_and_first_firms() -> None:
    found = facts("HK-Zhejiang supply chain services mechanism becomes operational",
                  "The mechanism began operating on Monday, and the first batch of 30 firms "
                  "have been served.", kind="mechanism_status")
    by_status = {f.value["status"]: f for f in found}
    assert by_status["operational"].value == {"status": "operational", "planned": False}
    assert by_status["operational"].confidence >= 0.8
    assert by_status["first_firms_served"].value["firms"] == 30


def test_mechanism_chinese() -> None:
    found = values("港浙供應鏈服務機制正式運作", "首批20家企業已獲服務。", kind="mechanism_status")
    assert {"status": "operational", "planned": False} in found
    assert {"status": "first_firms_served", "planned": False, "firms": 20} in found


@pytest.mark.parametrize(("text", "status", "planned"), [
    ("Hong Kong and Zhejiang agree to set up supply chain services mechanism", "agreed", False),
    ("Supply chain services mechanism suspended pending review", "suspended", False),
    ("The supply chain services mechanism will be launched next month", "launched", True),
    ("港浙供應鏈服務機制今日啟動", "launched", False),
    ("有關供應鏈服務機制預計下月正式運作", "operational", True),
])
def test_mechanism_statuses(text: str, status: str, planned: bool) -> None:
    [fact] = facts(text, kind="mechanism_status")
    assert fact.value["status"] == status and fact.value["planned"] is planned
    if planned:
        assert fact.confidence < 0.85


@pytest.mark.parametrize("text", [
    "The mechanism will be launched next month, officials said.",
    "DHL launches supply chain services in Hong Kong",
    "A new pricing mechanism became operational in Hangzhou",
])
def test_no_mechanism_status(text: str) -> None:
    assert values(text, kind="mechanism_status") == []


def test_facts_are_deduplicated_across_title_and_summary() -> None:
    found = facts("Hong Kong and Zhejiang signed more than 50 projects",
                  "Officials signed more than 50 projects in Ningbo.", kind="project_count")
    assert len(found) == 1


# -- cases the claims set showed missing ------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("US tariffs on Chinese goods fall to 30% from 145%",
     {"percent": 30, "imposer": "US", "target": "China", "previous_percent": 145}),
    ("Beijing slashes retaliatory levy on American goods to 10pc",
     {"percent": 10, "imposer": "China", "target": "US"}),
])
def test_tariff_rate_moves_and_pc(text: str, value: dict[str, Any]) -> None:
    assert values(text, kind="tariff_rate") == [value]


def test_tariff_rates_of_both_sides_in_one_chinese_sentence() -> None:
    found = values("", "美方将对中国商品加征的关税由145%降至30%，"
                       "中方对美国商品的关税由125%降至10%。", kind="tariff_rate")
    assert {"percent": 30, "imposer": "US", "target": "China"} in found
    assert {"percent": 10, "imposer": "China", "target": "US"} in found


@pytest.mark.parametrize(("text", "firms"), [
    ("港浙供應鏈服務機制：首批十二家浙江企業已獲服務", 12),
    ("The supply chain services mechanism has served its first twelve Zhejiang firms", 12),
    ("As at 30 June, 40 Zhejiang enterprises had used the supply chain services mechanism", 40),
    ("截至6月30日，浙港供应链服务合作机制累计服务浙江企业40家", 40),
    ("網傳港浙供應鏈服務機制已服務逾百家企業", 100),
])
def test_mechanism_firm_counts(text: str, firms: int) -> None:
    [value] = values(text, kind="mechanism_status")
    assert value["firms"] == firms and value["planned"] is False


@pytest.mark.parametrize(("text", "status"), [
    ("Government denies supply chain services mechanism has been suspended", None),
    ("政府：港浙供應鏈服務機制運作正常 無暫停計劃", "operational"),
    ("Hong Kong and Zhejiang witnessed the signing of a memorandum to establish the supply "
     "chain services mechanism", "agreed"),
    ("港浙供應鏈服務機制或將暫停", "suspended"),
    ("Hong Kong and Guangdong launch supply chain services mechanism", None),
    ("粤港供应链服务机制启动", None),
])
def test_mechanism_denials_agreements_and_other_provinces(text: str, status: str | None) -> None:
    found = [v["status"] for v in values(text, kind="mechanism_status")]
    assert found == ([status] if status else [])


def test_planned_count_of_firms_is_no_count() -> None:
    [value] = values("Hong Kong and Zhejiang agreed to set up the supply chain services mechanism, "
                     "which will serve 100 firms", kind="mechanism_status")
    assert value == {"status": "agreed", "planned": False}


@pytest.mark.parametrize(("text", "stage"), [
    ("Sanhua prices Hong Kong IPO at top of range", "priced"),
    ("三花智控公佈H股最終發售價定為每股22.53港元，將於6月23日在港交所主板掛牌", "priced"),
    ("Deep Robotics passes Hong Kong listing hearing", "approved"),
    ("宁德时代今日在港交所上市", "listed"),
])
def test_listing_priced_approved_and_future_listing(text: str, stage: str) -> None:
    [value] = values(text, kind="listing")
    assert value["stage"] == stage


def test_export_control_targets_named_by_their_firms_and_licences_in_chinese() -> None:
    [entity] = values("美國商務部將多間中國企業列入實體清單", kind="export_control")
    assert (entity["imposer"], entity["target"]) == ("US", "China")
    [licence] = values("美國商務部要求英偉達H20芯片出口中國須申領許可證", kind="export_control")
    assert (licence["imposer"], licence["target"]) == ("US", "China")


def test_hedged_telling_of_a_repeated_fact_is_kept() -> None:
    [fact] = facts("Zhejiang supply chain services mechanism suspended",
                   "Insiders claim the supply chain services mechanism has been suspended.",
                   kind="mechanism_status")
    assert fact.sentence.startswith("Insiders claim")


# -- issue 10, point 5: numbers, parties, clauses, companies ----------------------------------


def test_two_rates_in_one_sentence_joined_by_and() -> None:
    found = values("", "Washington will trim duties on Chinese imports to 40% from 100%, and "
                       "Beijing will lower its levies on American goods to 15% from 90%, "
                       "starting on June 2.", kind="tariff_rate")
    assert {"percent": 40, "imposer": "US", "target": "China", "previous_percent": 100} in found
    assert {"percent": 15, "imposer": "China", "target": "US", "previous_percent": 90} in found


def test_chinese_rates_split_at_commas_and_hk_tariff_spelling() -> None:
    found = values("", "美方對中國商品的關税由80%降至40%，中方對美關稅由70%降至15%，6月2日起生效。",
                   kind="tariff_rate")
    assert {"percent": 40, "imposer": "US", "target": "China"} in found
    assert {"percent": 15, "imposer": "China", "target": "US"} in found


def test_tariff_parties_skip_asides_and_read_verb_objects() -> None:
    [aside] = values("美國把對中國貨品（包括香港貨品）的關稅下調至40%", kind="tariff_rate")
    assert aside["imposer"] == "US" and aside["target"] == "China"
    [verb] = values("Washington to halve China tariffs to 40% next month", kind="tariff_rate")
    assert verb["imposer"] == "US" and verb["target"] == "China"


def test_headline_names_the_parties_a_later_sentence_omits() -> None:
    [value] = values("US prolongs China tariff pause to December",
                     "The extra tariff rate therefore stays at 40%.", kind="tariff_rate")
    assert value == {"percent": 40, "imposer": "US", "target": "China"}


def test_project_count_measure_words_and_signing_is_not_about() -> None:
    [a] = values("雙方簽署二十份涵蓋物流、檢測及法律服務的合作協議", kind="project_count")
    assert a == {"count": 20, "qualifier": "exactly"}
    [b] = values("两地企业现场签约18个项目", kind="project_count")
    assert b == {"count": 18, "qualifier": "exactly"}


@pytest.mark.parametrize(("title", "summary", "company", "stage"), [
    ("Qiantang Dynamics soars 25% in Hong Kong trading debut", "", "Qiantang Dynamics",
     "listed"),
    ("", "Shares of Ningbo's Haixin Biotech rose on their first day of trading in Hong Kong.",
     "Haixin Biotech", "listed"),
    ("", "The minister welcomed the listing of Yunfan Technologies on the Hong Kong exchange.",
     "Yunfan Technologies", "listed"),
    ("杭州星河智能科技股份有限公司今日在港交所主板掛牌", "", "星河智能", "listed"),
    ("寧波海芯生物已向港交所遞交上市申請", "", "海芯生物", "filed"),
    ("海芯生物香港IPO招股價定於每股12港元", "公司將於下周在港上市。", "海芯生物", "priced"),
])
def test_listing_companies_and_stages(title: str, summary: str, company: str,
                                      stage: str) -> None:
    found = values(title, summary, kind="listing")
    assert any(v["company"] == company and v["stage"] == stage for v in found), found


def test_listing_description_is_no_company_and_stock_code_is_kept() -> None:
    [value] = values("浙江無人機企業天目航空在港交所掛牌（股份代號：2777）", kind="listing")
    assert value["company"] == "天目航空" and value["code"] == "2777.HK"


def test_mechanism_short_names_and_headline_counts() -> None:
    assert {"status": "operational", "planned": False} in values(
        "Hong Kong-Zhejiang supply chain scheme goes live", kind="mechanism_status")
    [served] = values("Fifteen Zhejiang manufacturers tap Hong Kong supply chain mechanism",
                      kind="mechanism_status")
    assert served == {"status": "firms_served", "planned": False, "firms": 15}
    assert {"status": "launched", "planned": False} in values(
        "港浙供應鏈服務機制今日正式啓動", kind="mechanism_status")


def test_mechanism_as_a_means_gives_no_status() -> None:
    assert values("", "The Ningbo firm used the supply chain services mechanism to set up an "
                      "office in Hong Kong.", kind="mechanism_status") == []
    assert values("", "該公司透過港浙供應鏈服務機制在港設立地區總部。",
                  kind="mechanism_status") == []


@pytest.mark.parametrize(("text", "imposer", "target"), [
    ("Five Chinese drone makers placed on US Entity List", "US", "China"),
    ("Washington blacklists 9 Chinese companies over chip smuggling", "US", "China"),
    ("北京強烈反對美國將12家中國企業列入實體清單", "US", "China"),
    ("Commerce informed AMD that exports of MI308 chips to China will require a licence",
     None, "China"),
])
def test_export_control_parties(text: str, imposer: str | None, target: str) -> None:
    [value] = values(text, kind="export_control")
    assert value["target"] == target
    if imposer:
        assert value["imposer"] == imposer


def test_export_licences_granted_is_easing() -> None:
    [value] = values("", "The US said licences for MI308 sales to China will be granted.",
                     kind="export_control")
    assert value["action"] == "eased" and value["imposer"] == "US"
