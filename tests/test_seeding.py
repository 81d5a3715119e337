"""The packaged seed dossier: it loads, every event matches the catalogue, and it paraphrases."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.support.paths import ROOT as REPO
from tests.support.paths import SEED_FILE as SEED
from tracker.catalogue import CATALOGUE, STANCES, STATUSES, missing_fields
from tracker.dates import UNDATED_AT
from tracker.events import NewEvent, deterministic_id
from tracker.seeding import (
    NOT_DOSSIERS,
    SeedError,
    load_seed_file,
    packaged_seed_files,
    parse_seed,
)

DOSSIER = "hk-zhejiang-supply-chain"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _article() -> str:
    """The source article, from shared/ beside the repository (or the workplace's copy)."""
    document = json.loads(SEED.read_text(encoding="utf-8"))["sources"][0]["document"]
    for shared in (REPO.parent / "shared", Path("/work/shared")):
        path = shared / document
        if path.is_file():
            return path.read_text(encoding="utf-8")
    if IN_CI:
        pytest.fail(f"source article {document} not found beside the repository")
    pytest.skip(f"source article {document} not available here")


def _words(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.findall(r"[a-z0-9]+", text)


def test_packaged_seed_files_finds_the_dossier_and_skips_feeds() -> None:
    names = [f.name for f in packaged_seed_files()]
    assert "hk-zhejiang-supply-chain.json" in names
    assert "feeds.json" in NOT_DOSSIERS
    assert all(n.endswith(".json") and n not in NOT_DOSSIERS for n in names)


def test_every_seed_event_validates_against_the_catalogue() -> None:
    for path in packaged_seed_files():
        events = load_seed_file(path)
        assert events
        for stream, event in events:
            assert stream.startswith("dossier:")
            assert event.type in CATALOGUE
            assert missing_fields(event.type, event.data) == []
            assert set(event.data) <= set(CATALOGUE[event.type].fields)
            if event.type == "policy.status_changed":
                assert event.data["status"] in STATUSES
            if event.type == "commentary.recorded":
                assert event.data["stance"] in STANCES
            source = event.meta["source"]
            assert set(source) == {"id", "publication", "headline", "date", "paragraph",
                                   "document", "publisher", "tier", "date_precision",
                                   "date_note"}
            assert event.meta["actor"] == "seed"


def test_seed_meta_ids_and_precision() -> None:
    events = load_seed_file(SEED)
    streams = {s for s, _ in events}
    assert streams == {f"dossier:{DOSSIER}"}
    ids = [e.event_id for _, e in events]
    assert len(ids) == len(set(ids))
    by_key = {e.meta["seed_key"]: e for _, e in events}
    for key, event in by_key.items():
        assert event.event_id == deterministic_id("seed", DOSSIER, key)
        assert 1 <= event.meta["source"]["paragraph"] <= 10
    assert [e.event_id for _, e in load_seed_file(SEED)] == ids
    ban = by_key["context-nvidia-export-ban"]
    assert (ban.occurred_at.year, ban.occurred_precision) == (2022, "year")
    tariffs = by_key["context-us-tariffs"]
    assert tariffs.schema_version == 2
    assert (tariffs.data["value"], tariffs.data["unit"]) == (145, "percent")
    assert tariffs.data["qualifier"] == "up_to"  # "as high as 145%": a bound, not a level
    assert (tariffs.occurred_at.month, tariffs.occurred_precision) == (4, "month")
    deal = by_key["agreement-projects"].data
    assert (deal["project_count"], deal["count_qualifier"]) == (50, "more_than")
    assert by_key["milestone-visit"].data["duration_days"] == 4
    assert by_key["milestone-facility-tours"].data["count"] == 2


def test_seed_names_the_actors_the_article_names() -> None:
    names = {e.data["name"] for _, e in load_seed_file(SEED) if e.type == "actor.identified"}
    for name in ("John Lee", "Algernon Yau", "Sun Dong", "HKSAR Government",
                 "Zhejiang provincial government", "DeepSeek", "Game Science", "Unitree",
                 "Deep Robotics", "Hangzhou six little dragons", "China Daily",
                 "South China Morning Post", "Sonny Lo", "David Yin", "Informed Ventures",
                 "Unnamed venture capitalist", "The Straits Times", "United States government",
                 "Nvidia", "University of Hong Kong"):
        assert name in names


# -- a seed that says only what the article says (issue 9) ----------------------------------------


def _by_key() -> dict[str, NewEvent]:
    return {e.meta["seed_key"]: e for _, e in load_seed_file(SEED)}


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def test_background_the_article_gives_no_date_for_is_undated() -> None:
    by_key = _by_key()
    for key in ("context-hk-free-trade", "context-hk-no-fx-controls"):
        event = by_key[key]
        assert event.occurred_precision == "undated"
        assert event.occurred_at == UNDATED_AT
        assert "no date" in event.meta["occurred_note"]
    seed = SEED.read_text(encoding="utf-8")
    assert "1997" not in seed and "Basic Law" not in seed


def test_what_the_article_reports_undated_carries_its_estimated_date() -> None:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    source = doc["sources"][0]
    assert (source["date"], source["date_precision"]) == ("2025-05", "month")
    assert source["date_note"].startswith("estimate:")
    by_key = _by_key()
    commentary = [e for e in by_key.values() if e.type == "commentary.recorded"]
    assert len(commentary) == 6
    # commentary, interviews and the "recent" chip curbs: the article's own (estimated) date
    for event in [*commentary, by_key["context-nvidia-tightening"]]:
        assert (event.occurred_at.year, event.occurred_at.month) == (2025, 5), event.meta
        assert event.occurred_precision == "month"
        assert event.meta["occurred_estimated"] is True
        assert event.meta["occurred_note"]
    assert "recent" in by_key["context-nvidia-tightening"].meta["occurred_note"]


def test_the_mechanism_was_agreed_during_the_visit_not_signed_at_ningbo() -> None:
    by_key = _by_key()
    signed = [e for e in by_key.values() if e.type == "agreement.signed"]
    assert [e.data["agreement_id"] for e in signed] == ["visit-project-agreements"]
    agreed = by_key["milestone-mechanism-agreed"]
    assert (agreed.type, agreed.data["kind"]) == ("milestone.recorded", "agreement")
    assert "Ningbo" not in agreed.data["location"]
    assert "does not say" in agreed.meta["occurred_note"]
    venue = by_key["fact-announced-venue"].data
    assert "Ningbo" not in venue["value"] and "does not say" in venue["note"]
    for event in by_key.values():  # Ningbo is where Lee spoke, not where anything was agreed
        for text in _texts(dict(event.data)):
            assert not re.search(r"(agreed|announced|signed)[^.;]*Ningbo", text), text
    assert "agreed during the visit" in by_key["status-announced"].data["note"]
    assert "in principle" not in SEED.read_text(encoding="utf-8")


def test_wording_keeps_the_article_s_strength() -> None:
    by_key = _by_key()
    assert "bypass" in by_key["fact-purpose"].data["value"]
    assert "circumvent" in by_key["milestone-visit"].data["summary"]
    seed = SEED.read_text(encoding="utf-8")
    for invented in ("cope with", "where they source and sell", "Secretary for", "Singapore",
                     "late April 2025", "late-April 2025", "first choice", "trained on"):
        assert invented not in seed, invented


def test_views_are_attributed_and_inferences_marked() -> None:
    by_key = _by_key()
    outcomes = {k: e for k, e in by_key.items() if e.type == "outcome.expected"}
    assert all(e.data["actor_ids"] for e in outcomes.values())
    assert outcomes["outcome-startup-finance"].data["actor_ids"] == ["unnamed-investors"]
    chips = outcomes["outcome-ai-chips"]
    assert chips.data["actor_ids"] == ["source-article"]
    assert chips.meta["stated"] is False
    assert [k for k, e in by_key.items() if e.meta.get("stated") is False] == ["outcome-ai-chips"]
    actors = {e.data["actor_id"] for e in by_key.values() if e.type == "actor.identified"}
    assert {"unnamed-investors", "source-article"} <= actors
    free_trade = by_key["context-hk-free-trade"].data["summary"]
    assert "venture capitalist" in free_trade


def test_up_to_145_percent_and_the_claim_slots() -> None:
    by_key = _by_key()
    tariffs = by_key["context-us-tariffs"].data
    assert (tariffs["value"], tariffs["qualifier"], tariffs["slot"]) == (
        145, "up_to", "tariff:us:china")
    assert by_key["status-announced"].data["slot"] == "lifecycle"
    assert by_key["agreement-projects"].data["slot"] == "projects_signed"
    assert by_key["context-nvidia-tightening"].data["slot"] == "export_control:us:china"
    assert "slot" not in by_key["context-nvidia-export-ban"].data  # one measure per slot


def test_the_seed_source_names_its_publisher_and_tier() -> None:
    source = json.loads(SEED.read_text(encoding="utf-8"))["sources"][0]
    assert source["publisher"] and source["tier"] == "unrated"
    for _, event in load_seed_file(SEED):
        assert event.meta["source"]["tier"] == "unrated"
        assert event.meta["source"]["date_note"] == source["date_note"]


def test_an_undated_entry_has_no_occurred_at() -> None:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    entry = next(e for e in doc["events"] if e["key"] == "context-hk-free-trade")
    entry["occurred_at"] = None
    [event] = [e for _, e in parse_seed(json.dumps(doc), "ok.json")
               if e.meta["seed_key"] == "context-hk-free-trade"]
    assert (event.occurred_at, event.occurred_precision) == (UNDATED_AT, "undated")
    entry["occurred_at"] = "2025"
    with pytest.raises(SeedError, match=r"\(context-hk-free-trade\): an undated entry has no"):
        parse_seed(json.dumps(doc), "bad.json")
    del entry["occurred_at"]
    entry["stated"] = "no"
    with pytest.raises(SeedError, match="'stated' must be true or false"):
        parse_seed(json.dumps(doc), "bad.json")


def _copied(article: list[str], text: str) -> list[str]:
    """The 8-word runs of the article that ``text`` repeats."""
    words = _words(text)
    windows = {tuple(words[i:i + 8]) for i in range(len(words) - 7)}
    return [" ".join(article[i:i + 8]) for i in range(len(article) - 7)
            if tuple(article[i:i + 8]) in windows]


def test_no_sentence_of_the_article_is_copied() -> None:
    article = _words(_article())
    seed = json.dumps(json.loads(SEED.read_text(encoding="utf-8")), ensure_ascii=False)
    assert _copied(article, seed) == []


_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache",
              ".ruff_cache", ".pytest_cache", "build", "dist"}
_TEXT_SUFFIXES = {".py", ".md", ".json", ".toml", ".xml", ".txt", ".cfg", ".ini", ".yml",
                  ".yaml", ".html", ".rst", ".csv"}


def test_no_run_of_eight_words_of_the_article_anywhere_in_the_project() -> None:
    """Not only the seed: code, docs, tests and fixtures paraphrase the article too."""
    article = _words(_article())
    found = {}
    for path in REPO.rglob("*"):
        if (not path.is_file() or path.suffix not in _TEXT_SUFFIXES
                or _SKIP_DIRS.intersection(path.relative_to(REPO).parts)):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if path.suffix == ".json":  # \u escapes read as the characters they stand for
            with contextlib.suppress(ValueError):
                text = json.dumps(json.loads(text), ensure_ascii=False)
        copied = _copied(article, text)
        if copied:
            found[str(path.relative_to(REPO))] = copied[:3]
    assert found == {}


def test_quotes_are_short_and_verbatim() -> None:
    article = " ".join(_words(_article()))
    quotes = [e.data["quote"] for _, e in load_seed_file(SEED) if e.data.get("quote")]
    assert quotes
    for quote in quotes:
        assert len(_words(quote)) < 8
        assert " ".join(_words(quote)) in article


def test_article_has_the_ten_paragraphs_the_seed_cites() -> None:
    paragraphs = [line for line in _article().splitlines() if line.strip()]
    assert len(paragraphs) == 10


def _seed_with(**changes: object) -> str:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    entry = next(e for e in doc["events"] if e["key"] == "status-announced")
    for name, value in changes.items():
        if name.startswith("data_"):
            entry["data"][name.removeprefix("data_")] = value
        else:
            entry[name] = value
    return json.dumps(doc)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"data_status": "launched"}, "status 'launched'"),
    ({"data_colour": "red"}, "fields not in the catalogue: colour"),
    ({"occurred_precision": "day"}, "is a month"),
    ({"type": "policy.unknown"}, "unknown event type"),
    ({"source": {"id": "nope", "paragraph": 1}}, "source"),
    ({"source": {"id": "seed-000", "paragraph": 11}}, "paragraph 11"),
])
def test_bad_entries_are_refused_with_one_line(changes: dict[str, object],
                                               expected: str) -> None:
    with pytest.raises(SeedError) as info:
        parse_seed(_seed_with(**changes), "bad.json")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("bad.json: events[")
    assert "(status-announced)" in message
    assert expected in message


def test_missing_required_field_and_bad_stance() -> None:
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    entry = next(e for e in doc["events"] if e["type"] == "commentary.recorded")
    entry["data"]["stance"] = "glowing"
    with pytest.raises(SeedError, match="stance 'glowing'"):
        parse_seed(json.dumps(doc), "bad.json")
    del entry["data"]["summary"]
    with pytest.raises(SeedError, match="missing summary"):
        parse_seed(json.dumps(doc), "bad.json")


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="absent.json"):
        load_seed_file(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(SeedError, match="broken.json: not valid JSON"):
        load_seed_file(broken)
