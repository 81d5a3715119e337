"""Relevance: the packaged rules on a labelled set, and the matching rules one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.paths import INGEST_FIXTURES, SEEDS
from tracker.ingest.relevance import Rules, RulesError, classify, load_rules, parse_rules

REPO_RULES = SEEDS / "relevance.toml"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(REPO_RULES)


def test_packaged_rules_are_the_repository_file(rules: Rules) -> None:
    packaged = load_rules()
    assert packaged.version == rules.version
    assert [t.name for t in packaged.terms] == [t.name for t in rules.terms]
    assert packaged.threshold == rules.threshold


def test_precision_and_recall_on_labelled_set(rules: Rules) -> None:
    labelled = json.loads((INGEST_FIXTURES / "relevance_labelled.json").read_text(encoding="utf-8"))
    assert len(labelled) >= 40
    assert any(x["relevant"] for x in labelled) and any(not x["relevant"] for x in labelled)
    tp = fp = fn = tn = 0
    mistakes = []
    for case in labelled:
        decision = classify(case["title"], case["summary"], rules)
        if decision.relevant and case["relevant"]:
            tp += 1
        elif decision.relevant:
            fp += 1
            mistakes.append(f"false positive: {case['title']} ({decision.reason})")
        elif case["relevant"]:
            fn += 1
            mistakes.append(f"false negative: {case['title']} ({decision.reason})")
        else:
            tn += 1
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"\nrelevance on {len(labelled)} labelled items: precision {precision:.3f}, "
          f"recall {recall:.3f} (tp={tp} fp={fp} fn={fn} tn={tn})")
    for line in mistakes:
        print("  " + line)
    assert precision >= 0.9
    assert recall >= 0.85


def test_decision_explains_itself(rules: Rules) -> None:
    d = classify("Hong Kong, Zhejiang agree supply chain services mechanism",
                 "Chief Executive John Lee witnessed the signing in Hangzhou.", rules)
    assert d.relevant
    assert d.rules_version == rules.version and d.threshold == rules.threshold
    assert {"Hong Kong", "Zhejiang", "Hangzhou", "John Lee",
            "supply chain services mechanism", "supply chain"} <= set(d.matched)
    assert d.score == sum(t.weight for t in rules.terms if t.name in d.matched)
    assert d.reason.startswith(f"score {d.score} >= {rules.threshold}")


def test_generic_hong_kong_and_generic_tariff_news_are_not_core(rules: Rules) -> None:
    hk = classify("Hong Kong home prices fall again", "Hong Kong property agents expect "
                  "HK prices to stabilise; HKSAR officials said the HK market is resilient.",
                  rules)
    assert not hk.relevant and hk.matched == ("Hong Kong",)
    tariffs = classify("US raises tariffs on Chinese goods to 145%",
                       "Export controls on Nvidia chips and tariffs dominate the trade war.", rules)
    assert tariffs.tier == "context"  # a change to a driver: context, never the mechanism
    assert tariffs.reason.startswith("context: ")


def test_strong_combination_without_zhejiang(rules: Rules) -> None:
    d = classify("Hong Kong traders rework supply chains as US tariffs bite", "", rules)
    assert d.relevant and "hk + supply_chain + trade" in d.reason


def test_english_matches_whole_words_only(rules: Rules) -> None:
    assert "Hong Kong" not in classify("HKUST and CHKS results", "", rules).matched
    assert "Hong Kong" in classify("HK$10 billion fund", "", rules).matched
    assert "Hong Kong" in classify("Shares in hk rose", "", rules).matched
    assert "Ningbo" not in classify("Ningboland theme park", "", rules).matched
    assert "supply chain" in classify("Supply-chain shift", "", rules).matched
    assert "tariffs" in classify("New TARIFFS announced", "", rules).matched


def test_lee_alone_is_not_john_lee(rules: Rules) -> None:
    for text in ("Lee says Zhejiang ties will deepen", "Lee Kuan Yew remembered in Hangzhou",
                 "John Lee Hooker tribute in Hong Kong", "Bruce Lee museum opens"):
        assert "John Lee" not in classify(text, "", rules).matched, text
    assert "John Lee" in classify("Chief Executive John Lee visits Ningbo", "", rules).matched
    assert "John Lee" in classify("Lee Ka-chiu meets Zhejiang leaders", "", rules).matched


def test_chinese_matches_as_substrings(rules: Rules) -> None:
    d = classify("李家超會見杭州六小龍代表", "", rules)
    assert {"John Lee", "Hangzhou", "six little dragons"} <= set(d.matched)
    simplified = classify("丘应桦谈港浙供应链服务机制", "", rules)
    assert {"Algernon Yau", "supply chain services mechanism", "Hong Kong",
            "Zhejiang"} <= set(simplified.matched)
    assert simplified.relevant


def test_fullwidth_letters_are_normalised(rules: Rules) -> None:
    assert "Hong Kong" in classify("ＨＫ firms", "", rules).matched


def test_rules_can_be_loaded_by_path_and_validated(tmp_path: Path) -> None:
    good = tmp_path / "rules.toml"
    good.write_text('version = "t1"\nthreshold = 2\nrequire_any = [["a"]]\n'
                    '[[terms]]\nname = "Alpha"\ngroup = "a"\nweight = 2\n'
                    'aliases = ["alpha", "阿"]\n')
    rules = load_rules(good)
    assert rules.version == "t1"
    assert classify("Alphas everywhere", "", rules).relevant
    assert classify("阿爾法", "", rules).relevant
    assert not classify("Alphabet", "", rules).relevant
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")
    with pytest.raises(RulesError, match="not valid TOML"):
        parse_rules("version = ")
    with pytest.raises(RulesError, match="missing 'threshold'"):
        parse_rules('version = "x"\n[[terms]]\nname="a"\ngroup="g"\nweight=1\naliases=["a"]\n')
    with pytest.raises(RulesError, match="unknown group"):
        parse_rules('version = "x"\nthreshold = 1\nrequire_any = [["nope"]]\n'
                    '[[terms]]\nname="a"\ngroup="g"\nweight=1\naliases=["a"]\n')
    with pytest.raises(RulesError, match="weight must be an integer"):
        parse_rules('version = "x"\nthreshold = 1\n'
                    '[[terms]]\nname="a"\ngroup="g"\nweight="heavy"\naliases=["a"]\n')
