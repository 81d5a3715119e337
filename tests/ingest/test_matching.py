"""Story dedupe across feeds: shared links, similar titles, and look-alikes that differ."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from tracker.ingest.matching import (
    SIMILARITY_THRESHOLD,
    SOURCE_THRESHOLD,
    StoryCandidate,
    StoryMatch,
    find_story,
    joining_story,
    match_story,
    normalise_title,
    similarity,
)
from tracker.ingest.story_features import article_id, event_signature

T0 = datetime(2025, 4, 29, 4, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeItem:
    title: str
    link: str | None
    published: datetime = T0


@dataclass(frozen=True)
class GuidItem(FakeItem):
    guid: str | None = None


def story(story_id: str, title: str, *links: str, published: datetime = T0) -> StoryCandidate:
    return StoryCandidate(story_id=story_id, title=title, links=frozenset(links),
                          published=published)


def test_normalise_title() -> None:
    assert normalise_title("HK and Zhejiang agree new supply-chain mechanism – SCMP") == \
        "hong kong zhejiang agree supply chain mechanism"
    assert normalise_title("Unitree files for Hong Kong IPO | RTHK") == \
        "unitree files hong kong listing"
    assert normalise_title("港浙簽署協議 – 新聞") == "港浙簽署協議"


@pytest.mark.parametrize(("a", "b"), [
    ("Hong Kong, Zhejiang agree supply chain mechanism",
     "HK and Zhejiang agree new supply-chain mechanism – SCMP"),
    ("Unitree files for Hong Kong IPO", "Unitree Robotics files for HK listing"),
    ("港浙簽署供應鏈服務機制合作協議", "香港與浙江簽署供應鏈服務機制協議"),
    ("李家超率團訪問浙江", "李家超率領代表團訪問浙江四天"),
])
def test_syndicated_rewrites_are_similar(a: str, b: str) -> None:
    assert similarity(a, b) >= SIMILARITY_THRESHOLD


@pytest.mark.parametrize(("a", "b"), [
    ("Hong Kong, Zhejiang agree supply chain mechanism",
     "Hong Kong-Zhejiang supply chain mechanism becomes operational"),
    ("Unitree files for Hong Kong IPO", "Deep Robotics files for Hong Kong IPO"),
    ("US raises tariffs on Chinese goods to 145%", "China raises tariffs on US goods to 125%"),
    ("John Lee arrives in Hangzhou for four-day Zhejiang visit",
     "John Lee meets Hangzhou 'six little dragons'"),
    ("李家超率團訪問浙江", "李家超出席寧波論壇"),
    ("宇樹科技赴港上市", "雲深處科技赴港上市"),
    ("港浙供應鏈服務機制正式運作", "港浙簽署供應鏈服務機制合作協議"),
])
def test_different_stories_with_shared_words_are_not(a: str, b: str) -> None:
    assert similarity(a, b) < SIMILARITY_THRESHOLD


def test_similarity_bounds() -> None:
    assert similarity("Same title here", "Same title here") == 1.0
    assert similarity("", "anything") == 0.0
    assert 0.0 <= similarity("Tariffs", "港浙") <= 1.0


def test_syndicated_copy_with_other_link_joins_the_story() -> None:
    candidates = [
        story("st-1", "Hong Kong, Zhejiang agree supply chain mechanism",
              "https://harbourbusiness.example/hk/mechanism"),
        story("st-2", "Hong Kong home prices fall for third month",
              "https://harbourbusiness.example/property/prices"),
    ]
    copy = FakeItem("HK and Zhejiang agree new supply-chain mechanism – SCMP",
                    "https://deltatrade.example/asia/mechanism?ref=feed",
                    T0 + timedelta(hours=3))
    story_id, score = match_story(copy, candidates)
    assert story_id == "st-1" and score >= SIMILARITY_THRESHOLD


def test_same_canonical_link_wins_whatever_the_title_or_date() -> None:
    candidates = [story("st-9", "Completely different wording",
                        "https://news.example/a?utm_source=rss",
                        published=T0 - timedelta(days=90))]
    item = FakeItem("Updated: something else", "https://NEWS.example/a#comments")
    assert match_story(item, candidates) == ("st-9", 1.0)


def test_time_window_limits_title_matches() -> None:
    old = story("st-old", "Hong Kong, Zhejiang agree supply chain mechanism",
                published=T0 - timedelta(days=30))
    item = FakeItem("HK and Zhejiang agree supply-chain mechanism", None)
    story_id, score = match_story(item, [old], window_days=14)
    assert story_id is None and score == 0.0
    assert match_story(item, [old], window_days=45)[0] == "st-old"


def test_no_match_reports_best_similarity() -> None:
    candidates = [story("st-1", "Unitree files for Hong Kong IPO")]
    story_id, score = match_story(FakeItem("Deep Robotics files for Hong Kong IPO", None),
                                  candidates)
    assert story_id is None and 0 < score < SIMILARITY_THRESHOLD


def test_best_of_several_candidates() -> None:
    candidates = [
        story("st-a", "Hong Kong-Zhejiang supply chain mechanism becomes operational"),
        story("st-b", "Hong Kong, Zhejiang agree supply chain mechanism"),
    ]
    item = FakeItem("HK and Zhejiang agree new supply-chain mechanism", None)
    assert match_story(item, candidates)[0] == "st-b"


def test_simplified_and_traditional_copies_of_one_agency_story_merge() -> None:
    traditional = "香港與浙江簽署供應鏈服務機制合作協議 推動企業「走出去」"
    simplified = "香港与浙江签署供应链服务机制合作协议 推动企业“走出去”"
    assert similarity(traditional, simplified) == 1.0
    found = find_story(FakeItem(simplified, "https://cn.example/a/1.html"),
                       [story("st-hk", traditional, "https://hk.example/b/2.html")])
    assert found.story_id == "st-hk"
    assert "Traditional/Simplified folded" in found.reason


def test_wire_reissue_joins_the_original() -> None:
    original = story("st-w", "Hong Kong, Zhejiang sign supply chain pact",
                     "https://wire.example/world/hk-zhejiang-idUSKBN1")
    for title in ("UPDATE 1-Hong Kong, Zhejiang sign supply chain pact",
                  "UPDATE 2-Hong Kong, Zhejiang sign supply chain pact (Corrected)",
                  "EXCLUSIVE-Hong Kong, Zhejiang sign supply chain pact",
                  "REFILE-UPDATE 1-Hong Kong, Zhejiang sign supply chain pact"):
        found = find_story(FakeItem(title, "https://wire.example/world/hk-zhejiang-idUSKBN2",
                                    T0 + timedelta(hours=2)), [original])
        assert (found.story_id, found.similarity) == ("st-w", 1.0), title
        assert found.reason == "same headline after normalisation (re-issue marker stripped)"


def test_reissue_markers_are_not_numbers() -> None:
    assert normalise_title("UPDATE 2-US cuts tariffs on Chinese goods to 30%") == \
        normalise_title("US cuts tariffs on Chinese goods to 30% (Corrected)") == \
        "us cuts tariffs chinese goods 30 percent"
    assert normalise_title("港浙機制正式運作（更新）") == "港浙機制正式運作"


@pytest.mark.parametrize("suffix", [" - Reuters", " | Reuters", " - South China Morning Post"])
def test_aggregator_copy_with_publisher_suffix_joins(suffix: str) -> None:
    original = story("st-r", "Hong Kong-Zhejiang supply chain mechanism becomes operational",
                     "https://wire.example/markets/mechanism-operational")
    copy = FakeItem("Hong Kong-Zhejiang supply chain mechanism becomes operational" + suffix,
                    "https://news.google.com/rss/articles/CBMiXYZ?oc=5", T0 + timedelta(hours=5))
    found = find_story(copy, [original])
    assert found.story_id == "st-r"
    assert found.reason == "same headline after normalisation (publisher suffix stripped)"


def test_aggregator_redirect_link_is_never_identity() -> None:
    redirect = "https://news.google.com/rss/articles/CBMiXYZ?oc=5"
    candidates = [story("st-g", "Hong Kong home prices fall for third month", redirect)]
    found = find_story(FakeItem("Unitree files for Hong Kong IPO", redirect), candidates)
    assert found.story_id is None


def test_one_article_under_two_section_paths_is_one_story() -> None:
    candidates = [story("st-s", "HK firms eye Zhejiang deals",
                        "https://www.paper.example/news/hong-kong/article/3309876/hk-firms-eye",
                        published=T0 - timedelta(days=40))]
    item = FakeItem("Zhejiang manufacturers turn to Hong Kong to go global",
                    "https://paper.example/economy/china-economy/article/3309876/zhejiang-firms")
    found = find_story(item, candidates)
    assert (found.story_id, found.reason) == ("st-s", "same article id paper.example/3309876")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://www.paper.example/news/hong-kong/article/3309876/slug", "paper.example/3309876"),
    ("https://news.example/component/k2/1803456-20250514.htm", "news.example/1803456"),
    ("https://site.example/china/zhejiang-firms-3309876.html", "site.example/3309876"),
    ("https://site.example/2025/05/14/zhejiang-firms", None),
    ("https://site.example/20250514/zhejiang-firms.html", None),
    ("https://news.google.com/rss/articles/12345678", None),
    (None, None),
])
def test_article_id(url: str | None, expected: str | None) -> None:
    assert article_id(url) == expected


def test_article_id_is_per_site() -> None:
    candidates = [story("st-a", "Hong Kong home prices fall",
                        "https://paper.example/property/article/3309876/prices")]
    item = FakeItem("Unitree files for Hong Kong IPO",
                    "https://other.example/tech/article/3309876/unitree")
    assert find_story(item, candidates).story_id is None


@pytest.mark.parametrize(("a", "b"), [
    ("Supply chain mechanism has served 12 Zhejiang firms",
     "Supply chain mechanism has served 40 Zhejiang firms"),
    ("UPDATE 1-Mechanism has served 12 Zhejiang firms, HK says",
     "Mechanism has served 40 Zhejiang firms, HK says"),
    ("港浙供應鏈機制已服務12家企業", "港浙供应链机制已服务40家企业"),
])
def test_titles_differing_only_in_a_number_stay_apart(a: str, b: str) -> None:
    candidates = [story("st-may", a, published=T0)]
    later = FakeItem(b, None, T0 + timedelta(days=10))
    found = find_story(later, candidates)
    assert found.story_id is None and found.similarity < SIMILARITY_THRESHOLD


def test_guid_shared_by_a_syndicated_copy_is_identity() -> None:
    candidates = [StoryCandidate("st-g", "Completely different wording", frozenset(), T0,
                                 frozenset({"guid:wire-123"}))]
    item = GuidItem("Other words", "https://portal.example/x", T0, "wire-123")
    assert find_story(item, candidates) == StoryMatch("st-g", 1.0, "same guid")


def test_every_match_reports_its_evidence() -> None:
    candidates = [story("st-1", "Hong Kong, Zhejiang agree supply chain mechanism",
                        "https://harbourbusiness.example/hk/mechanism")]
    by_link = find_story(FakeItem("x", "https://harbourbusiness.example/hk/mechanism?utm_x=1"),
                         candidates)
    assert by_link == StoryMatch("st-1", 1.0, "same link")
    by_title = find_story(FakeItem("Zhejiang and HK agree mechanism for supply chains", None),
                          candidates)
    assert by_title.story_id == "st-1"
    assert by_title.similarity < 1.0
    assert by_title.reason == f"title similarity {by_title.similarity:.2f}"
    missing = find_story(FakeItem("Hong Kong home prices fall for third month", None),
                         candidates)
    assert missing.story_id is None and missing.reason.startswith("no story within 14 days")


def test_strongest_evidence_wins_over_an_earlier_weaker_one() -> None:
    candidates = [
        story("st-title", "Hong Kong, Zhejiang agree supply chain mechanism"),
        story("st-article", "Something else", "https://paper.example/a/article/3309876/x"),
        story("st-link", "Another thing", "https://paper.example/b/article/3309876/y"),
    ]
    item = FakeItem("Hong Kong, Zhejiang agree supply chain mechanism",
                    "https://paper.example/b/article/3309876/y")
    assert find_story(item, candidates).reason == "same link"
    assert match_story(item, candidates) == ("st-link", 1.0)


def test_candidate_features_are_prepared_once() -> None:
    candidate = story("st-1", "港浙簽署協議 – 新聞", "https://paper.example/a/article/3309876/x")
    assert candidate.prepared_title.text == "港浙签署协议"
    assert candidate.prepared_links.article_ids == {"paper.example/3309876"}
    assert candidate == story("st-1", "港浙簽署協議 – 新聞",
                              "https://paper.example/a/article/3309876/x")


# -- same event by signature, aggregator sources ---------------------------------------------

@dataclass(frozen=True)
class LedeItem:
    title: str
    link: str | None
    published: datetime
    summary: str = ""
    source_url: str | None = None


JUL8 = datetime(2025, 7, 8, 10, 30, tzinfo=UTC)


def lede_story(story_id: str, item: LedeItem) -> StoryCandidate:
    return StoryCandidate(story_id=story_id, title=item.title,
                          links=frozenset({item.link} if item.link else set()),
                          published=item.published, summary=item.summary)


def test_english_and_chinese_press_releases_of_one_announcement_merge() -> None:
    english = LedeItem(
        "Supply chain services mechanism serves 12 Zhejiang enterprises in first two weeks",
        "https://www.info.gov.hk/gia/general/202507/08/P2025070800400.htm", JUL8,
        "Invest Hong Kong said today that, as at June 30, the Hong Kong-Zhejiang supply chain "
        "services mechanism had served 12 Zhejiang enterprises.")
    chinese = LedeItem(
        "港浙供應鏈服務機制首兩周服務12家浙企",
        "https://www.info.gov.hk/gia/general/202507/08/P2025070800401.htm", JUL8,
        "投資推廣署今日表示，截至6月30日，港浙供應鏈服務機制已服務12家浙江企業。")
    found = find_story(chinese, [lede_story("st-en", english)])
    assert found.story_id == "st-en"
    assert found.reason.startswith("same event:")
    assert "12 in both headlines" in found.reason and "Zhejiang" in found.reason


def test_one_event_in_three_outlets_is_one_story() -> None:
    wire = LedeItem("Hong Kong-Zhejiang supply chain scheme serves 12 firms in first weeks",
                    "https://orientwire.example/markets/L4N3V0001", JUL8,
                    "A Hong Kong-Zhejiang supply chain services mechanism had served 12 "
                    "Zhejiang companies as at June 30, Invest Hong Kong said on Tuesday.")
    paper = LedeItem("Twelve Zhejiang firms tap Hong Kong supply chain mechanism in first "
                     "fortnight", "https://harbourpost.example/business/article/3316001/x",
                     JUL8 + timedelta(hours=9),
                     "Twelve Zhejiang enterprises had been served by the Hong Kong-Zhejiang "
                     "supply chain services mechanism as at June 30, Invest Hong Kong said.")
    agency = LedeItem("港浙供应链服务机制已服务12家浙企", "https://huaxun.example/c/1133001.htm",
                      JUL8 + timedelta(hours=8, minutes=30),
                      "华讯社香港7月8日电 香港投资推广署8日表示，截至6月30日，港浙供应链服务机制"
                      "已服务12家浙江企业。")
    candidates = [lede_story("st-wire", wire)]
    assert find_story(paper, candidates).story_id == "st-wire"
    assert find_story(agency, candidates).story_id == "st-wire"


def test_same_kind_of_event_with_other_numbers_or_days_stays_apart() -> None:
    may = LedeItem("Supply chain mechanism serves 12 Zhejiang firms", None, JUL8,
                   "Invest Hong Kong said the Hong Kong-Zhejiang supply chain services "
                   "mechanism had served 12 Zhejiang firms.")
    july = LedeItem("港浙供應鏈服務機制已服務40家浙企", None, JUL8 + timedelta(hours=20),
                    "投資推廣署表示，港浙供應鏈服務機制已服務40家浙江企業，較早前為12家。")
    later = LedeItem("港浙供應鏈服務機制已服務12家浙企", None, JUL8 + timedelta(days=3),
                     "投資推廣署表示，港浙供應鏈服務機制已服務12家浙江企業。")
    candidates = [lede_story("st-12", may)]
    assert find_story(july, candidates).story_id is None  # headlines: 12 firms vs 40 firms
    assert find_story(later, candidates).story_id is None  # three days on: another event


def test_a_reaction_repeating_one_figure_in_its_lede_is_not_the_event() -> None:
    news = LedeItem("US, China agree to slash tariffs for 90 days in Geneva breakthrough", None,
                    JUL8, "US tariffs on Chinese goods will fall to 30% from 145%.")
    reaction = LedeItem("Hong Kong exporters cautiously welcome Geneva tariff truce", None,
                        JUL8 + timedelta(hours=14),
                        "Hong Kong traders said US tariffs on Chinese goods would be cut for "
                        "90 days.")
    assert find_story(reaction, [story("st-geneva", news.title, published=news.published)]) \
        .story_id is None


def test_aggregator_item_joins_the_story_carrying_its_source_site() -> None:
    original = story("st-hp", "Lee tours Hangzhou robotics labs as city courts six dragons",
                     "https://www.harbourpost.example/business/article/3308355/lee-tours",
                     published=T0)
    copy = LedeItem("John Lee tours Hangzhou robotics labs courting six dragons start-ups - "
                    "Harbour Post", "https://news.google.com/rss/articles/CBMiXyz?oc=5",
                    T0 + timedelta(hours=4), source_url="https://harbourpost.example")
    elsewhere = LedeItem(copy.title, copy.link, copy.published,
                         source_url="https://othernews.example")
    found = find_story(copy, [original])
    assert found.story_id == "st-hp"
    assert "aggregator copy of harbourpost.example" in found.reason
    assert SOURCE_THRESHOLD <= found.similarity < SIMILARITY_THRESHOLD
    assert find_story(elsewhere, [original]).story_id is None


def test_titles_agreeing_only_on_the_dossier_names_are_not_one_story() -> None:
    assert similarity("Hong Kong-Zhejiang supply chain services mechanism launched",
                      "Hong Kong-Zhejiang supply chain mechanism: opportunities for legal "
                      "services") < SIMILARITY_THRESHOLD


def test_event_signature_normalises_numbers_units_and_scripts() -> None:
    english = event_signature("Lingxi Robotics raises HK$2.3 bln in Hong Kong IPO", "", T0)
    chinese = event_signature("靈犀機器人招股價定上限 集資23億港元", "百分之三十", T0)
    assert ("HK$", "2300000000") in english.numbers & chinese.numbers
    assert ("%", "30") in chinese.numbers
    assert {"Lingxi Robotics", "listing"} <= english.entities & chinese.entities


# -- events without key numbers ---------------------------------------------------------------

def test_one_publishers_release_in_two_languages_is_one_story() -> None:
    english = story("st-en", "Council of Trade holds talks on Hong Kong-Zhejiang logistics",
                    "https://www.press.example/releases/2025/07/08/R0101.htm", published=JUL8)
    chinese = LedeItem("貿易委員會就港浙物流合作舉行座談",
                       "https://www.press.example/releases/2025/07/08/R0102.htm",
                       JUL8 + timedelta(minutes=3), "委員會今日與浙江代表討論香港物流服務。")
    found = find_story(chinese, [english])
    assert found.story_id == "st-en"
    assert "two languages" in found.reason
    # another site, or an hour later, is not the sibling release
    other_site = LedeItem(chinese.title, "https://www.paper.example/a/778812.htm",
                          chinese.published, chinese.summary)
    later = LedeItem(chinese.title, chinese.link, JUL8 + timedelta(hours=1), chinese.summary)
    assert find_story(other_site, [english]).story_id is None
    assert find_story(later, [english]).story_id is None


def test_same_act_by_a_named_party_across_languages_is_one_story() -> None:
    news = story("st-tour", "Lee tours Hangzhou robot makers on last day of trip",
                 published=JUL8)
    chinese = LedeItem("李家超一行考察杭州機器人企業", None, JUL8 + timedelta(hours=5),
                       "李家超今日參觀杭州多家機器人公司。")
    found = find_story(chinese, [news])
    assert found.story_id == "st-tour"
    assert "same act" in found.reason and "John Lee" in found.reason


def test_another_act_by_the_same_party_that_day_is_another_story() -> None:
    tour = story("st-tour", "Lee tours Hangzhou robot makers on last day of trip",
                 published=JUL8)
    wrap = LedeItem("行政長官結束浙江訪問", None, JUL8 + timedelta(hours=6),
                    "李家超今日結束為期四天的浙江訪問。")
    assert find_story(wrap, [tour]).story_id is None


def test_agreeing_a_mechanism_and_signing_projects_next_day_are_two_stories() -> None:
    agreed = story("st-agree", "Hong Kong, Zhejiang agree supply chain services mechanism",
                   published=JUL8)
    signed = LedeItem("港浙簽署多個合作項目", None, JUL8 + timedelta(hours=16),
                      "香港與浙江簽署合作項目，供應鏈服務機制將跟進落實。")
    assert find_story(signed, [agreed]).story_id is None


def test_same_act_on_the_dossiers_names_alone_needs_one_days_news() -> None:
    launch = story("st-launch", "Hong Kong launches supply chain service for Zhejiang firms",
                   published=JUL8)
    same_day = LedeItem("港浙供應鏈服務機制正式啟動", None, JUL8 + timedelta(hours=8))
    next_day = LedeItem(same_day.title, None, JUL8 + timedelta(hours=30))
    culture = LedeItem("Zhejiang Week opens in Hong Kong", None, JUL8 + timedelta(hours=2))
    assert find_story(same_day, [launch]).story_id == "st-launch"
    assert find_story(next_day, [launch]).story_id is None
    assert find_story(culture, [launch]).story_id is None


def test_a_lede_number_short_of_evidence_leaves_the_act_to_decide() -> None:
    news = story("st-truce", "Washington extends China tariff truce for another 90 days",
                 published=JUL8)
    release = LedeItem("Government notes extension of US tariff arrangement", None,
                       JUL8 + timedelta(hours=12),
                       "The US has extended by 90 days the suspension of higher tariffs on "
                       "Chinese goods.")
    assert "same act" in find_story(release, [news]).reason


# -- a story's later write-ups, recaps, and joining two stories -------------------------------

def test_an_item_told_as_a_later_write_up_was_joins_the_story() -> None:
    first = story("st-geneva", "US, China agree to slash tariffs for 90 days in Geneva",
                  published=JUL8)
    grown = first.joined("US slashes tariffs on Chinese goods to 30% from 145%", JUL8)
    chinese = LedeItem("美方对华关税由145%降至30%", None, JUL8 + timedelta(hours=6))
    assert find_story(chinese, [first]).story_id is None  # no number in the first headline
    found = find_story(chinese, [grown])
    assert found.story_id == "st-geneva" and "both headlines" in found.reason


def test_a_ledes_figures_count_only_against_the_stories_first_report() -> None:
    news = LedeItem("Tariff truce agreed in Geneva", None, JUL8,
                    "US tariffs on Chinese goods will fall to 30% from 145% for 90 days.")
    grown = lede_story("st-geneva", news).joined(
        "US cuts China tariffs to 30% from 145% for 90 days", JUL8 + timedelta(hours=1))
    reaction = LedeItem("Hong Kong exporters cautiously welcome Geneva tariff truce", None,
                        JUL8 + timedelta(hours=20),
                        "Traders said the cut to 30% would revive orders while the 90-day "
                        "truce lasts.")
    assert find_story(reaction, [grown]).story_id is None


def test_a_newsletter_recapping_the_day_the_story_broke_joins_it_within_a_week() -> None:
    news = LedeItem("US adds 23 Chinese entities to Entity List, including Hangzhou AI firms",
                    None, datetime(2025, 9, 12, 20, 10, tzinfo=UTC),
                    "The US Commerce Department added 23 Chinese entities to its Entity List "
                    "on Friday, including two Hangzhou artificial intelligence start-ups.")
    weekly = LedeItem("Entity List: two Hangzhou AI start-ups added", None,
                      datetime(2025, 9, 15, 7, tzinfo=UTC),
                      "The US added Chinese entities to the Entity List on September 12, two "
                      "of them Hangzhou AI start-ups.")
    found = find_story(weekly, [lede_story("st-el", news)])
    assert found.story_id == "st-el" and "recapped" in found.reason
    a_month_on = LedeItem(weekly.title, None, datetime(2025, 10, 15, 7, tzinfo=UTC),
                          weekly.summary)
    assert find_story(a_month_on, [lede_story("st-el", news)]).story_id is None


def test_a_date_the_report_gives_ties_a_recap_only_within_two_days() -> None:
    news = LedeItem("US, China agree to slash tariffs for 90 days in Geneva breakthrough", None,
                    datetime(2025, 5, 12, 8, tzinfo=UTC),
                    "GENEVA, May 12 - US tariffs on Chinese goods will fall to 30% from 145%, "
                    "taking effect on May 14.")
    alert = LedeItem("Client alert: US-China Geneva joint statement", None,
                     datetime(2025, 5, 13, 10, tzinfo=UTC),
                     "The US will reduce tariffs on Chinese goods from 14 May.")
    analysis = LedeItem("How long will the Geneva window last?", None,
                        datetime(2025, 5, 15, 7, tzinfo=UTC),
                        "US tariffs on Chinese goods fell on May 14; we look at freight.")
    assert find_story(alert, [lede_story("st-g", news)]).story_id == "st-g"
    assert find_story(analysis, [lede_story("st-g", news)]).story_id is None


def test_two_named_parties_together_in_one_news_cycle_are_one_event() -> None:
    speech = LedeItem("Speech by CE at Hong Kong-Ningbo economic and trade forum", None, JUL8,
                      "In his speech at a forum in Ningbo, the Chief Executive said Hong Kong "
                      "can help Zhejiang enterprises.")
    agency = LedeItem("李家超：香港可助浙企开拓新市场", None, JUL8 + timedelta(hours=1),
                      "李家超在宁波出席论坛时表示，香港可助浙江企业开拓新市场。")
    found = find_story(agency, [lede_story("st-forum", speech)])
    assert found.story_id == "st-forum"
    assert "John Lee, Ningbo together" in found.reason and found.strong


def test_named_parties_together_telling_another_act_are_another_event() -> None:
    wrap = LedeItem("CE concludes Zhejiang visit", None, JUL8,
                    "The Chief Executive, Mr John Lee, concluded his visit in Hangzhou today.")
    tour = LedeItem("Lee tours Hangzhou robotics labs", None, JUL8 + timedelta(hours=2),
                    "John Lee visited robot makers in Hangzhou on Sunday.")
    assert find_story(tour, [lede_story("st-wrap", wrap)]).story_id is None


def test_an_ipo_priced_is_one_story_and_its_listing_another() -> None:
    wire = LedeItem("Lingxi Robotics raises HK$2.3 bln in Hong Kong IPO priced at top", None,
                    JUL8, "Lingxi Robotics priced its Hong Kong IPO at HK$38.50 per share, "
                          "raising HK$2.3 billion.")
    paper = LedeItem("Lingxi Robotics prices Hong Kong IPO at top of range", None,
                     JUL8 + timedelta(hours=1),
                     "Lingxi Robotics priced its offering at HK$38.50 a share, raising HK$2.3 "
                     "billion.")
    listed = LedeItem("灵犀机器人港股上市", None, JUL8 + timedelta(hours=3),
                      "杭州灵犀机器人在香港联交所主板上市。")
    found = find_story(paper, [lede_story("st-priced", wire)])
    assert found.story_id == "st-priced" and "HK$38.5" in found.reason
    assert find_story(listed, [lede_story("st-priced", wire)]).story_id is None


def test_an_item_tying_two_stories_of_one_event_joins_them() -> None:
    wire = story("st-wire", "US, China agree to slash tariffs for 90 days in Geneva",
                 published=JUL8)
    paper = story("st-paper", "中美日内瓦会谈 美方对华关税降至30%",
                  published=JUL8 + timedelta(hours=3))
    copy = LedeItem("US to cut China tariffs to 30% for 90 days after Geneva talks", None,
                    JUL8 + timedelta(hours=5))
    found = find_story(copy, [wire, paper])
    other = joining_story(copy, [wire, paper], found)
    assert other is not None and {found.story_id, other.story_id} == {"st-wire", "st-paper"}


def test_weak_ties_and_an_analysts_split_never_join_stories() -> None:
    wire = story("st-wire", "US, China agree to slash tariffs for 90 days in Geneva",
                 published=JUL8)
    paper = story("st-paper", "中美日内瓦会谈 美方对华关税降至30%",
                  published=JUL8 + timedelta(hours=3))
    copy = LedeItem("US to cut China tariffs to 30% for 90 days after Geneva talks", None,
                    JUL8 + timedelta(hours=5))
    pinned = replace(paper, pinned=True)
    assert joining_story(copy, [wire, pinned], find_story(copy, [wire, pinned])) is None
    weak = StoryMatch("st-wire", 0.2, "same event: same act; ...", strong=False)
    assert joining_story(copy, [wire, paper], weak) is None
    days_apart = replace(paper, published=JUL8 + timedelta(days=3))
    assert joining_story(copy, [wire, days_apart],
                         find_story(copy, [wire, days_apart])) is None
