"""Relevance in two tiers: core (the mechanism and its direct outcomes) and context (changes to
the drivers the dossier names), with the hard negatives kept out of both."""

from __future__ import annotations

import pytest

from tests.support.paths import SEEDS
from tracker.ingest.relevance import Rules, RulesError, classify, load_rules, parse_rules


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(SEEDS / "relevance.toml")


CORE = [
    ("Hong Kong, Zhejiang agree supply chain services mechanism", "Signed in Hangzhou."),
    ("港浙供應鏈服務機制正式運作", ""),
    ("港浙供应链服务机制首批企业名单公布", ""),
    ("Hong Kong firms court Zhejiang manufacturers hit by US tariffs", ""),
    # Zhejiang firms using Hong Kong: a base, a listing (in either script)
    ("Wenzhou lighting maker picks Hong Kong for its overseas headquarters", ""),
    ("杭州機械人公司赴港上市", "公司計劃集資10億港元。"),
    # a robotics or AI listing in Hong Kong is core even when the copy drops the home city
    ("Quadruped robot maker prices Hong Kong IPO at top of range", "It raised HK$1.5 billion."),
    ("具身智能機器人企業招股 集資8億港元", ""),
    # the officials the dossier names, in Zhejiang, need no other topic
    ("Sun Dong tours Ningbo innovation park", ""),
]

CONTEXT = [
    ("US tariffs on Chinese goods fall to 30% from 145% under 90-day truce", ""),
    ("US extends tariff truce with China by another 90 days", ""),
    ("Washington to raise tariffs on Hong Kong goods", "The new rate takes effect on May 14."),
    ("US adds Hangzhou AI start-ups to Entity List", "The Commerce Department named six firms."),
    ("美國對華加徵關稅至145%", "白宮表示措施即時生效。"),
    ("美国对华关税降至30% 暂停90天", ""),
    ("美国商务部将多家杭州人工智能企业列入实体清单", ""),
    ("美國商務部將香港企業列入實體清單", ""),
    # the Hong Kong form of tariff (關税, as OpenCC's s2hk writes it) is the same word
    ("美方對華加徵關税降至30%", ""),
    # US curbs on the AI chips Zhejiang AI start-ups depend on, and their easing, even when no
    # Zhejiang firm is named
    ("Chipmaker told it needs a US licence to sell its H20 accelerators in China", ""),
    ("Washington to grant licences for H20 chip sales to China, easing April curbs", ""),
    ("美方放寬對華AI晶片出口限制", ""),
]

HARD_NEGATIVES = [
    ("Hong Kong home prices fall for third straight month", "Let us know what you think."),
    ("香港樓價連跌三個月", ""),
    ("Hong Kong Observatory issues typhoon signal No 8", ""),
    ("Hangzhou typhoon: Hong Kong flights cancelled", ""),
    ("杭州暴雨 香港航班取消", ""),
    ("Hangzhou hosts international marathon", "Runners from Hong Kong took part."),
    ("Hong Kong woman held in Hangzhou over telephone scam", ""),
    ("Hong Kong and Guangdong launch supply chain services mechanism", ""),
    ("香港與廣東簽署供應鏈服務合作機制", ""),
    ("DeepSeek releases new reasoning model", "The Hangzhou start-up's model tops benchmarks."),
    ("深度求索發布新一代推理模型", ""),
    ("Nvidia shares slide on new US export controls", ""),
    ("EU weighs tariffs on Chinese electric vehicles", ""),
    ("Japan and US hold tariff talks in Washington", ""),
    ("Chinese exporters seek new markets as US tariffs bite", ""),
    ("Tell us about tariffs on Chinese goods: raise your questions", ""),  # "us", not the US
    # Hong Kong and Zhejiang named together, about neither's business
    ("Hangzhou week of Yue opera and tea culture opens in Hong Kong", ""),
    ("Hong Kong rowers take two golds at Ningbo dragon boat regatta", ""),
    ("Zhejiang families snap up Hong Kong flats near international schools", ""),
    ("浙江旅客國慶湧港 酒店入住率回升", ""),
    ("港浙青年交流團啟程", ""),
    # a robotics listing from another province stays out
    ("Shenzhen robot maker files for Hong Kong IPO", ""),
    # a market report that cites the truce is not a change to it
    ("Hong Kong shares end higher as US-China tariff truce lifts sentiment", ""),
    # a chip product launch, and chip curbs between other countries, are not the driver
    ("Nvidia unveils Blackwell chips for US data centres", ""),
    ("Japan and Netherlands tighten chip equipment curbs", ""),
]


@pytest.mark.parametrize(("title", "summary"), CORE)
def test_the_mechanism_is_core(rules: Rules, title: str, summary: str) -> None:
    d = classify(title, summary, rules)
    assert (d.relevant, d.tier) == (True, "core"), d.reason


@pytest.mark.parametrize(("title", "summary"), CONTEXT)
def test_driver_changes_are_context_without_naming_the_mechanism(rules: Rules, title: str,
                                                                 summary: str) -> None:
    d = classify(title, summary, rules)
    assert (d.relevant, d.tier) == (True, "context"), d.reason
    assert "supply chain services mechanism" not in d.matched
    assert rules.context is not None and d.threshold == rules.context.threshold


@pytest.mark.parametrize(("title", "summary"), HARD_NEGATIVES)
def test_hard_negatives_stay_out(rules: Rules, title: str, summary: str) -> None:
    d = classify(title, summary, rules)
    assert (d.relevant, d.tier) == (False, None), d.reason


def test_a_context_decision_explains_itself(rules: Rules) -> None:
    d = classify("US raises tariffs on Chinese goods to 145%", "", rules)
    assert d.tier == "context" and d.rules_version == rules.version
    assert {"US", "China", "tariff rate", "rate change", "tariffs"} <= set(d.matched)
    assert rules.context is not None
    weights = {t.name: t.weight for t in (*rules.core.terms, *rules.context.terms)}
    assert d.score == sum(weights[name] for name in d.matched)
    assert d.reason == (f"context: score {d.score} >= {rules.context.threshold} "
                        "with china + rate_change + tariff + us")


def test_a_veto_says_which_term_kept_an_item_out(rules: Rules) -> None:
    d = classify("Hong Kong and Guangdong launch supply chain services mechanism", "", rules)
    assert not d.relevant
    assert "vetoed by 'another province or city' (no zhejiang)" in d.reason
    # naming Zhejiang too lifts the veto: a comparison with this mechanism is about it
    both = classify("Hong Kong-Guangdong mechanism follows the Zhejiang model",
                    "It mirrors the supply chain services mechanism agreed with Zhejiang.", rules)
    assert both.tier == "core"


def test_hong_kong_and_zhejiang_alone_are_not_enough(rules: Rules) -> None:
    d = classify("Zhejiang Week opens in Hong Kong", "", rules)
    assert not d.relevant
    assert d.reason.endswith("but no required combination (have hk, zhejiang)")
    # the same places with business between them
    deal = classify("Zhejiang Week opens in Hong Kong with a signing of 12 trade agreements", "",
                    rules)
    assert deal.tier == "core" and "business" in deal.groups


def test_chinese_in_any_script_matches_one_alias(rules: Rules) -> None:
    """Traditional, Simplified and the Hong Kong variant forms fold to one script first."""
    for text in ("美國對華關稅", "美国对华关税", "美國對華關税"):
        d = classify(text, "", rules)
        assert "tariffs" in d.matched, text


def test_weak_chip_curb_words_need_chips_the_us_and_china(rules: Rules) -> None:
    for title in ("US restricts visas for Hong Kong officials",
                  "Licence needed to export Hangzhou tea to the US",
                  "US curbs chip exports", "China curbs exports of gallium"):
        assert not classify(title, "", rules).relevant, title
    d = classify("US curbs AI chip exports to China", "", rules)
    assert d.tier == "context" and "chip_curb" in d.groups


def test_the_packaged_rules_were_bumped_for_the_tiers(rules: Rules) -> None:
    assert rules.version not in ("2025-05-01.2", "2025-05-01.3")
    assert rules.context is not None and rules.context.terms
    assert {t.group for t in rules.context.terms} >= {"us", "china", "tariff", "rate_change",
                                                      "export_control"}


def _file(context: str = "", extra: str = "") -> str:
    return ('version = "t"\nthreshold = 2\nrequire_any = [["a"]]\n' + extra +
            '[[terms]]\nname = "Alpha"\ngroup = "a"\nweight = 2\naliases = ["alpha"]\n' + context)


def test_rules_without_a_context_section_have_one_tier() -> None:
    rules = parse_rules(_file())
    assert rules.context is None
    assert classify("alpha", "", rules).tier == "core"
    assert classify("beta", "", rules).tier is None


def test_context_may_name_core_groups_and_case_sensitive_terms() -> None:
    rules = parse_rules(_file(
        '[context]\nthreshold = 2\nrequire_any = [["a", "b"]]\n'
        '[[context.terms]]\nname = "B"\ngroup = "b"\nweight = 1\ncase_sensitive = true\n'
        'aliases = ["US"]\n', extra='[[veto]]\nname = "noise"\naliases = ["gamma"]\n'
        'unless = ["a"]\n'))
    # core needs only alpha; context needs alpha and B, so it never decides here alone
    assert classify("alpha US", "", rules).tier == "core"
    assert classify("alpha us", "", rules).matched == ("Alpha",)
    with pytest.raises(RulesError, match=r"\[context\].*unknown group"):
        parse_rules(_file('[context]\nthreshold = 1\nrequire_any = [["nope"]]\n'
                          '[[context.terms]]\nname = "b"\ngroup = "b"\nweight = 1\n'
                          'aliases = ["b"]\n'))
    with pytest.raises(RulesError, match="needs a non-empty unless"):
        parse_rules(_file(extra='[[veto]]\nname = "v"\naliases = ["v"]\n'))
    with pytest.raises(RulesError, match="unknown group"):
        parse_rules(_file(extra='[[veto]]\nname = "v"\naliases = ["v"]\nunless = ["zz"]\n'))
