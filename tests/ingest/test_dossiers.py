"""Many dossiers, on SQLite and PostgreSQL: each seed file brings its own relevance rules, and
ingest attaches a story to every tracked dossier whose rules it matches.

The first dossier is the packaged one (its rules: seeds/relevance.toml); the second is a small
test dossier in tests/fixtures/dossiers with rules of its own. One loopback feed carries an item
for the first only, one for the second only, one for both and one for neither.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.support.feed_server import FeedServer
from tests.support.paths import ROOT, SEEDS
from tracker import dossier, news, rules_log
from tracker.app import Tracker
from tracker.cli import main
from tracker.events import RecordedEvent
from tracker.feeds import add_feed
from tracker.ingest.relevance import load_rules
from tracker.ingest.run import ingest

FIRST = "hk-zhejiang-supply-chain"
SECOND = "gba-cross-boundary-data"
SECOND_SEED = ROOT / "tests" / "fixtures" / "dossiers" / f"{SECOND}.json"

# More than the 14-day matching window apart, so no two of them can be one story.
ITEMS = {
    "first-only": ("Thu, 01 May 2025 08:00:00 GMT",
                   "Hong Kong-Zhejiang supply chain services mechanism serves first 12 firms",
                   "Chief Executive John Lee said the mechanism agreed in Hangzhou has served "
                   "its first 12 firms."),
    "second-only": ("Mon, 19 May 2025 08:00:00 GMT",
                    "Hong Kong and Guangdong widen cross-boundary data flow pilot",
                    "More firms in the Greater Bay Area may send personal data across the "
                    "boundary under the standard contract."),
    "both": ("Sat, 07 Jun 2025 08:00:00 GMT",
             "Zhejiang firms using Hong Kong supply chain mechanism get cross-boundary data "
             "flow channel",
             "The Hong Kong-Zhejiang supply chain services mechanism has served 30 firms, which "
             "can now move data to Hong Kong under the cross-boundary data flow arrangement."),
    "neither": ("Wed, 25 Jun 2025 08:00:00 GMT",
                "Hong Kong Observatory issues typhoon signal No 8",
                "Schools in Hong Kong are closed."),
}


def rss() -> bytes:
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title>"
        f"<link>https://wire.example/{guid}</link><pubDate>{date}</pubDate>"
        f"<description>{summary}</description></item>"
        for guid, (date, title, summary) in ITEMS.items())
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://wire.example/</link><description>d</description>{entries}"
            f"</channel></rss>").encode()



@pytest.fixture
def ingested(tracker: Tracker, server: FeedServer) -> Tracker:
    """Both dossiers seeded, the feed subscribed and ingested once."""
    dossier.load_seeds(tracker)
    dossier.load_seeds(tracker, [SECOND_SEED])
    server.serve("wire", rss())
    add_feed(tracker, "wire", server.url("wire"), allow_private=True)
    [outcome] = ingest(tracker, feed="wire").outcomes
    assert outcome.status == "ok", outcome.message
    return tracker


def of_type(tracker: Tracker, event_type: str) -> list[RecordedEvent]:
    return list(tracker.store.read(types=[event_type]))


def guid_of(event: RecordedEvent) -> str:
    """Which of ITEMS an ingested event came from (by its link)."""
    link = event.meta["source"]["url"]
    return str(link).rsplit("/", 1)[-1]


def test_seeding_a_dossier_puts_the_rules_it_names_in_force(tracker: Tracker) -> None:
    dossier.load_seeds(tracker)
    assert rules_log.followed_policies(tracker) == [FIRST]
    dossier.load_seeds(tracker, [SECOND_SEED])

    assert rules_log.followed_policies(tracker) == [FIRST, SECOND]
    first, second = (rules_log.active_rules(tracker, p) for p in (FIRST, SECOND))
    assert (first.rules.version, first.source) == (
        load_rules(SEEDS / "relevance.toml").version, "seeds/relevance.toml")
    assert (second.rules.version, second.source) == (
        "test-gba.1", f"dossiers/{SECOND}.toml")
    assert first.event is not None and second.event is not None
    assert second.event.data["policy_id"] == SECOND

    again = dossier.load_seeds(tracker, [SECOND_SEED])  # idempotent, rules included
    assert again.appended == 0


def test_each_item_is_classified_for_every_dossier(ingested: Tracker) -> None:
    decisions = {(guid_of(e), e.data["policy_id"]): e.data["relevant"]
                 for e in of_type(ingested, "item.classified")}
    assert decisions == {
        ("first-only", FIRST): True, ("first-only", SECOND): False,
        ("second-only", FIRST): False, ("second-only", SECOND): True,
        ("both", FIRST): True, ("both", SECOND): True,
        ("neither", FIRST): False, ("neither", SECOND): False,
    }
    versions = {e.data["policy_id"]: e.data["rules_version"]
                for e in of_type(ingested, "item.classified")}
    assert versions[SECOND] == "test-gba.1" and versions[FIRST] != "test-gba.1"


def test_stories_and_claims_attach_to_the_dossiers_whose_rules_they_match(
        ingested: Tracker) -> None:
    stories = {guid_of(e): e.data for e in of_type(ingested, "story.created")}
    assert {guid: data["policy_ids"] for guid, data in stories.items()} == {
        "first-only": [FIRST], "second-only": [SECOND], "both": [FIRST, SECOND]}
    assert all("policy_id" not in data for data in stories.values())

    facts: dict[str, set[str]] = {}
    for event in of_type(ingested, "fact.extracted"):
        facts.setdefault(guid_of(event), set()).add(event.data["policy_id"])
    assert facts["first-only"] == {FIRST}
    assert facts["both"] == {FIRST, SECOND}  # one fact event per dossier: claims are per policy
    assert facts.get("second-only", {SECOND}) == {SECOND}

    report = dossier.status(ingested)
    policies = {p["id"]: p for p in report["policies"]}
    assert set(policies) == {FIRST, SECOND}
    story_titles = {pid: {s["title"] for s in p["follow_ups"]["stories"]}
                    for pid, p in policies.items()}
    assert story_titles == {
        FIRST: {ITEMS["first-only"][1], ITEMS["both"][1]},
        SECOND: {ITEMS["second-only"][1], ITEMS["both"][1]},
    }
    both = stories["both"]["story_id"]
    claims = {doc["policy_id"]: {c["claim_id"] for c in doc.get("claims") or ()}
              for doc in dossier.state_docs(ingested).policies}
    second_claims = [e.data["claim_id"] for e in of_type(ingested, "fact.extracted")
                     if e.data["story_id"] == both and e.data["policy_id"] == SECOND
                     and e.data["claim_id"]]
    assert second_claims, "the shared story states claims for the second dossier"
    assert set(second_claims) <= claims[SECOND]
    assert not set(second_claims) & claims[FIRST]  # claim ids are per policy


def test_status_shows_both_dossiers(ingested: Tracker, db_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", db_url, "status", "--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    shown = json.loads(result.stdout)
    assert {p["id"] for p in shown["policies"]} == {FIRST, SECOND}
    text = CliRunner().invoke(main, ["--database-url", db_url, "status"]).stdout
    assert "Greater Bay Area cross-boundary data mechanism" in text
    assert "Hong Kong–Zhejiang supply-chain services mechanism" in text


def test_rules_commands_need_a_policy_once_several_dossiers_are_tracked(
        ingested: Tracker, db_url: str) -> None:
    runner = CliRunner()
    ambiguous = runner.invoke(main, ["--database-url", db_url, "rules", "show"])
    assert ambiguous.exit_code != 0
    assert "--policy" in ambiguous.output
    named = runner.invoke(main, ["--database-url", db_url, "rules", "show", "--policy", SECOND,
                                 "--format", "json"])
    assert named.exit_code == 0, named.output
    assert json.loads(named.stdout)["version"] == "test-gba.1"


def test_reclassify_re_applies_each_dossiers_rules(ingested: Tracker, tmp_path) -> None:
    from tracker.reclassify import reclassify

    before = len(list(ingested.store.read()))
    unchanged = reclassify(ingested)
    assert (unchanged.items, unchanged.changed) == (len(ITEMS), 0)
    assert len(list(ingested.store.read())) == before

    # the second dossier's rules tightened: only its decisions change, its facts withdrawn
    strict = tmp_path / "strict.toml"
    strict.write_text((SECOND_SEED.parent / f"{SECOND}.toml").read_text(encoding="utf-8")
                      .replace('version = "test-gba.1"', 'version = "test-gba.2"')
                      .replace("threshold = 5", "threshold = 50"), encoding="utf-8")
    rules_log.set_rules(ingested, strict, SECOND)
    result = reclassify(ingested)
    assert (result.changed, result.newly_relevant, result.no_longer_relevant) == (2, 0, 2)
    guid = {e.data["item_key"]: guid_of(e) for e in of_type(ingested, "item.recorded")}
    latest = {(guid[e.data["item_key"]], e.data["policy_id"]): e.data["relevant"]
              for e in of_type(ingested, "item.classified")}
    assert latest[("both", FIRST)] is True and latest[("both", SECOND)] is False
    withdrawn = {e.data["target_position"] for e in of_type(ingested, "event.retracted")}
    second_facts = {e.position for e in of_type(ingested, "fact.extracted")
                    if e.data["policy_id"] == SECOND}
    assert withdrawn == second_facts


def test_a_story_follows_every_dossier_a_later_item_of_it_matched(
        ingested: Tracker, server: FeedServer) -> None:
    title = ITEMS["first-only"][1]
    copy = ("<item><guid>portal-copy</guid>"
            f"<title>{title}</title><link>https://portal.example/copy</link>"
            "<pubDate>Thu, 01 May 2025 10:00:00 GMT</pubDate><description>The first 12 firms "
            "may also send data to Hong Kong under the cross-boundary data flow pilot."
            "</description></item>")
    server.serve("portal", (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Portal</title>'
        f"<link>https://portal.example/</link><description>d</description>{copy}"
        "</channel></rss>").encode())
    before = {pid: {s["title"] for s in p["follow_ups"]["stories"]}
              for pid, p in ((p["id"], p) for p in dossier.status(ingested)["policies"])}
    assert title not in before[SECOND]
    add_feed(ingested, "portal", server.url("portal"), allow_private=True)
    [outcome] = ingest(ingested, feed="portal").outcomes
    assert outcome.status == "ok", outcome.message

    [joined] = [e for e in of_type(ingested, "story.corroborated")
                if e.data["feed"] == "portal"]
    assert SECOND in joined.data["policy_ids"]
    after = {p["id"]: {s["title"] for s in p["follow_ups"]["stories"]}
             for p in dossier.status(ingested)["policies"]}
    assert title in after[SECOND] and title in after[FIRST]
    stories = {s["id"]: s for s in news.news(ingested)["stories"]}
    assert SECOND in stories[joined.data["story_id"]]["policies"]
