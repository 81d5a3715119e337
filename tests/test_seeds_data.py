"""The packaged seed dossier: it loads, every event matches the catalogue, and it paraphrases."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tracker.catalogue import CATALOGUE, STANCES, STATUSES, missing_fields
from tracker.events import deterministic_id
from tracker.seeds import (
    NOT_DOSSIERS,
    SeedError,
    load_seed_file,
    packaged_seed_files,
    parse_seed,
)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "hk-zhejiang-supply-chain.json"
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
                                   "document"}
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


def test_no_sentence_of_the_article_is_copied() -> None:
    article = _words(_article())
    seed = _words(json.dumps(json.loads(SEED.read_text(encoding="utf-8")), ensure_ascii=False))
    windows = {tuple(seed[i:i + 8]) for i in range(len(seed) - 7)}
    copied = [" ".join(article[i:i + 8]) for i in range(len(article) - 7)
              if tuple(article[i:i + 8]) in windows]
    assert copied == []


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
