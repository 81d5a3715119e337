"""The evaluation runs on the labelled set and reports figures; it asserts no targets."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import pytest

from tests.support.paths import ROOT
from tracker.ingest import relevance

SET_DIR = ROOT / "bench" / "eval"
KINDS = {"government", "newspaper-section", "wire", "portal", "aggregator", "mainland-no-guid",
         "newspaper", "newsletter"}
HARD_NEGATIVE_TOPICS = {"property", "weather", "culture", "sport", "other-mechanism",
                        "deepseek"}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    path = ROOT / "bench" / "relevance.py"
    spec = importlib.util.spec_from_file_location("bench_relevance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _raw_items() -> list[dict]:
    return [item for path in sorted(SET_DIR.glob("*.json"))
            for item in json.loads(path.read_text(encoding="utf-8"))["items"]]


def test_the_set_holds_every_kind_of_case(bench: ModuleType) -> None:
    feeds = bench.load_set(SET_DIR)
    items = [i for f in feeds for i in f.items]
    raw = _raw_items()
    assert len(items) >= 250
    assert {f.kind for f in feeds} >= KINDS
    assert {i.language for i in items} >= {"en", "zh-Hant", "zh-Hans"}
    assert {i.relevant for i in items} == {"core", "context", None}
    assert {r.get("topic") for r in raw if not r["relevant"]} >= HARD_NEGATIVE_TOPICS
    assert any("guid" not in r for r in raw)
    assert any(r["title"].startswith("UPDATE") for r in raw)
    assert any(r.get("source") and "news.google.com" in r["link"] for r in raw)
    groups: dict[str, set[str]] = {}
    events: dict[str, set[str]] = {}
    for i in items:
        groups.setdefault(i.group, set()).add(i.feed)
        events.setdefault(i.event, set()).add(i.group)
    assert any(len(feeds_) > 1 for feeds_ in groups.values())
    assert any(len(groups_) > 1 for groups_ in events.values())
    assert any(r["facts"] for r in raw)


def test_the_evaluation_runs_and_reports_figures_between_0_and_1(bench: ModuleType) -> None:
    figures = bench.evaluate(bench.load_set(SET_DIR), relevance.load_rules())
    rates = [figures["relevance"]["precision"], figures["relevance"]["recall"],
             figures["merges"]["near_duplicate_merge"], figures["merges"]["same_event_merge"],
             figures["merges"]["over_merged_share"], figures["facts"]["fact_recall"]]
    for rate in rates:
        assert rate is None or 0.0 <= rate <= 1.0
    assert figures["merges"]["over_merged"] >= 0
    assert figures["relevance"]["items"] >= 250
    assert "near-duplicate merge" in bench.report(figures, verbose=True)
