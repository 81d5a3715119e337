"""Relevance rules as events through the CLI, on SQLite and PostgreSQL: `tracker rules set`,
`tracker rules show`, seeding the packaged rules, and ingest and reclassify under the active
rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, logged_events, ok
from tests.support.feed_server import FeedServer
from tests.support.paths import SEEDS
from tracker.app import open_tracker
from tracker.errors import EXIT_ALREADY
from tracker.ingest.relevance import load_rules

POLICY = "hk-zhejiang-supply-chain"
PACKAGED = load_rules(SEEDS / "relevance.toml")
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<link>https://wire.example/</link><description>d</description>
<item><guid>w-1</guid><title>US raises tariffs on Chinese goods to 145%</title>
<link>https://wire.example/1</link><pubDate>Thu, 10 Apr 2025 08:00:00 GMT</pubDate>
<description>The White House said the increase takes effect immediately.</description></item>
<item><guid>w-2</guid><title>Hong Kong and Zhejiang launch supply chain services mechanism</title>
<link>https://wire.example/2</link><pubDate>Tue, 29 Apr 2025 08:00:00 GMT</pubDate>
<description>Chief Executive John Lee witnessed the signing in Hangzhou.</description></item>
<item><guid>w-3</guid><title>Hong Kong Observatory issues typhoon signal No 8</title>
<link>https://wire.example/3</link><pubDate>Wed, 30 Apr 2025 08:00:00 GMT</pubDate>
<description>Schools in Hong Kong are closed.</description></item>
</channel></rss>"""


@pytest.fixture
def url(db_url: str) -> str:
    open_tracker(db_url).close()  # migrated and empty: the CLI will not seed it
    return db_url


def shown(url: str) -> dict[str, Any]:
    return dict(json.loads(ok(url, "rules", "show", "--format", "json").stdout))


def rules_file(tmp_path: Path, version: str, threshold: int = 5) -> Path:
    """The packaged rules under another version (and core threshold)."""
    text = (SEEDS / "relevance.toml").read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^version = ".*"$', f'version = "{version}"', text)
    assert n == 1
    text, n = re.subn(r"(?m)^threshold = \d+$", f"threshold = {threshold}", text)
    assert n == 1
    path = tmp_path / f"{version}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_show_without_any_rules_set_is_the_packaged_file(url) -> None:
    report = shown(url)
    assert report["version"] == PACKAGED.version
    assert (report["recorded"], report["position"], report["source"]) == (
        False, None, "seeds/relevance.toml")
    assert report["tiers"]["core"]["terms"] == len(PACKAGED.core.terms)
    assert PACKAGED.context is not None
    assert report["tiers"]["context"]["terms"] == len(PACKAGED.context.terms)
    assert "packaged seeds/relevance.toml" in ok(url, "rules", "show").stdout


def test_set_records_the_file_and_show_reports_it(url, tmp_path) -> None:
    path = rules_file(tmp_path, "test-set.1")

    result = ok(url, "rules", "set", str(path))

    [event] = logged_events(url, "rules.set")
    assert result.stdout.strip() == (
        f"rules test-set.1 in force for {POLICY} (position #{event['position']})")
    assert event["data"] == {"policy_id": POLICY, "version": "test-set.1",
                             "text": path.read_text(encoding="utf-8"), "source": str(path)}
    assert event["stream_id"] == f"rules:{POLICY}"
    report = shown(url)
    assert (report["version"], report["position"], report["recorded"], report["actor"]) == (
        "test-set.1", event["position"], True, "analyst")
    assert report["set_at"] == event["recorded_at"]
    text = ok(url, "rules", "show").stdout
    assert f"#{event['position']}" in text and "test-set.1" in text
    assert re.search(r"(?m)^context\s+\d+ terms, threshold 4$", text)


def test_bad_file_is_one_line_exit_2_and_nothing_written(url, tmp_path) -> None:
    before = logged_events(url)
    bad = tmp_path / "bad.toml"
    for text, fragment in (("version = ", "not valid TOML"),
                           ('version = "x"\nthreshold = 1\n', "missing 'terms'"),
                           ('version = "x"\nthreshold = 1\n[[terms]]\nname = "a"\n'
                            'group = "g"\nweight = 1\naliases = ["a"]\n'
                            '[context]\nthreshold = 1\nrequire_any = [["nope"]]\n'
                            '[[context.terms]]\nname = "b"\ngroup = "h"\nweight = 1\n'
                            'aliases = ["b"]\n', "unknown group")):
        bad.write_text(text, encoding="utf-8")
        result = cli(url, "rules", "set", str(bad))
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tracker: "), result.stderr
        assert fragment in lines[0] and str(bad) in lines[0]
    missing = cli(url, "rules", "set", str(tmp_path / "missing.toml"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    assert logged_events(url) == before


def test_same_version_twice_records_nothing(url, tmp_path) -> None:
    path = rules_file(tmp_path, "test-twice.1")
    ok(url, "rules", "set", str(path))
    after_first = logged_events(url)

    again = ok(url, "rules", "set", str(path))

    assert "already in force" in again.stdout and "nothing recorded" in again.stdout
    assert logged_events(url) == after_first
    # the same version with other rules is refused: a change needs a new version
    path.write_text(path.read_text(encoding="utf-8").replace("threshold = 5", "threshold = 6"),
                    encoding="utf-8")
    changed = cli(url, "rules", "set", str(path))
    assert changed.exit_code == EXIT_ALREADY and "new version" in changed.stderr
    assert logged_events(url) == after_first


def test_setting_earlier_rules_again_puts_them_back(url, tmp_path) -> None:
    first, second = rules_file(tmp_path, "test-a.1"), rules_file(tmp_path, "test-b.1")
    for path in (first, second, first):
        ok(url, "rules", "set", str(path))
    assert [e["data"]["version"] for e in logged_events(url, "rules.set")] == [
        "test-a.1", "test-b.1", "test-a.1"]
    assert shown(url)["version"] == "test-a.1"


def test_a_new_database_is_seeded_with_the_packaged_rules(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    report = shown(url)  # the first use seeds the database
    assert (report["version"], report["recorded"], report["actor"]) == (
        PACKAGED.version, True, "seed")
    ok(url, "seed")  # seeding again records no second rules.set
    assert len(logged_events(url, "rules.set")) == 1


def test_ingest_and_reclassify_use_the_active_rules(url, server: FeedServer, tmp_path) -> None:
    server.serve("wire", RSS.encode("utf-8"))
    ok(url, "feeds", "add", "wire", server.url("wire"), "--allow-private")
    ok(url, "rules", "set", str(rules_file(tmp_path, "test-active.1")))

    ok(url, "ingest")

    classified = {e["data"]["item_key"]: e["data"] for e in logged_events(url, "item.classified")}
    assert len(classified) == 3
    assert {d["rules_version"] for d in classified.values()} == {"test-active.1"}
    tiers = sorted(str(d["tier"]) for d in classified.values())
    assert tiers == ["None", "context", "core"]

    # reclassify with no file re-applies the active rules: nothing changed, nothing recorded
    before = logged_events(url)
    result = ok(url, "reclassify")
    assert "under rules test-active.1: 0 changed" in result.stdout
    assert logged_events(url) == before

    # new active rules that drop the core item: reclassify records that change alone
    ok(url, "rules", "set", str(rules_file(tmp_path, "test-strict.2", threshold=40)))
    result = ok(url, "reclassify")
    assert "under rules test-strict.2: 1 changed" in result.stdout
    latest = [e["data"] for e in logged_events(url, "item.classified")][-1]
    assert (latest["rules_version"], latest["relevant"], latest["tier"]) == (
        "test-strict.2", False, None)
