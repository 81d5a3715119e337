"""Feeds for operators: a URL followed once unless --force, `feeds health --check` for
monitoring, OPML import and export, and shell completion of feed names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from tests.support.cli import cli, ok, one_line_error
from tests.support.clock import FakeClock
from tests.support.paths import SAMPLE_FEEDS
from tracker import feeds as feeds_app
from tracker.app import open_tracker
from tracker.cli import main
from tracker.cli.completion import feed_names
from tracker.errors import EXIT_ALREADY, EXIT_FEEDS_UNHEALTHY, EXIT_USAGE
from tracker.ingest.run import ingest
from tracker.opml import parse, slug

HKGOV = "https://www.info.gov.hk/gia/rss/general_en.xml"  # the seeded feed hkgov-press-en
DELTA = SAMPLE_FEEDS / "delta-trade-wire.xml"


def head(url: str) -> int:
    return int(json.loads(ok(url, "head", "--format", "json").stdout)["position"])


def subs(url: str) -> dict[str, dict[str, Any]]:
    tracker = open_tracker(url)
    try:
        return {name: {k: v for k, v in vars_of(sub).items() if k != "position"}
                for name, sub in feeds_app.subscriptions(tracker).items()}
    finally:
        tracker.close()


def vars_of(sub: Any) -> dict[str, Any]:
    return {field: getattr(sub, field) for field in sub.__dataclass_fields__}


# -- one URL, one feed ----------------------------------------------------------------------------


def test_a_url_already_followed_under_another_name_is_refused(sqlite_url) -> None:
    ok(sqlite_url, "status")
    before = head(sqlite_url)
    for url in (HKGOV, HKGOV.replace("www.info.gov.hk", "WWW.Info.Gov.HK"), HKGOV + "/"):
        one_line_error(cli(sqlite_url, "feeds", "add", "hk-press", url), EXIT_ALREADY,
                 "already followed as 'hkgov-press-en'", "--force")
    assert head(sqlite_url) == before
    # the feed itself, added again, is no conflict
    ok(sqlite_url, "feeds", "add", "hkgov-press-en", HKGOV)
    assert head(sqlite_url) == before
    # moving another feed onto that URL is refused too
    one_line_error(cli(sqlite_url, "feeds", "add", "xinhua-china-en", HKGOV), EXIT_ALREADY,
             "hkgov-press-en")
    assert head(sqlite_url) == before
    forced = ok(sqlite_url, "feeds", "add", "hk-press", HKGOV, "--force")
    assert forced.stdout.startswith("following hk-press: ")
    assert subs(sqlite_url)["hk-press"]["url"] == HKGOV


# -- health --check -------------------------------------------------------------------------------


def test_check_exits_non_zero_for_a_failing_feed(sqlite_url, tmp_path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("this is not a feed", encoding="utf-8")
    tracker = open_tracker(sqlite_url)  # no default feeds: nothing reaches the network
    tracker.close()
    ok(sqlite_url, "feeds", "add", "fine", str(DELTA), "--allow-local")
    ok(sqlite_url, "ingest", "--feed", "fine")
    assert ok(sqlite_url, "feeds", "health", "--check").stderr == ""
    ok(sqlite_url, "feeds", "add", "broken", str(broken), "--allow-local")
    assert cli(sqlite_url, "ingest", "--feed", "broken").exit_code == 6
    result = cli(sqlite_url, "feeds", "health", "--check")
    line = one_line_error(result, EXIT_FEEDS_UNHEALTHY, "feed broken is failing")
    assert "fine" not in line and "broken" in result.stdout and "fine" in result.stdout
    # without --check, health is a report: exit 0 whatever it says
    assert cli(sqlite_url, "feeds", "health").exit_code == 0
    rows = json.loads(cli(sqlite_url, "feeds", "health", "--format", "json").stdout)
    assert {row["name"]: row["state"] for row in rows} == {"broken": "failing", "fine": "ok"}


def test_a_feed_not_fetched_within_three_intervals_is_stale(sqlite_url) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=30))
    tracker = open_tracker(sqlite_url, clock)
    try:
        feeds_app.add_feed(tracker, "fetched", str(DELTA), every="30m", allow_local=True)
        feeds_app.add_feed(tracker, "never", str(SAMPLE_FEEDS / "gangzhe-caijing.xml"),
                           every="1h", allow_local=True)
        ingest(tracker, feed="fetched")

        def states() -> dict[str, str]:
            return {h.name: h.state for h in feeds_app.health(tracker)}

        assert states() == {"fetched": "ok", "never": "new"}
        clock.advance(minutes=89)
        assert states() == {"fetched": "ok", "never": "new"}
        clock.advance(minutes=2)
        assert states() == {"fetched": "stale", "never": "new"}
        clock.advance(hours=2)
        assert states() == {"fetched": "stale", "never": "stale"}
        [stale] = [h for h in feeds_app.health(tracker) if h.name == "fetched"]
        assert "not fetched successfully since" in stale.problem()
    finally:
        tracker.close()
    # a month later, by the system's clock, `--check` says so
    result = cli(sqlite_url, "feeds", "health", "--check")
    assert result.exit_code == EXIT_FEEDS_UNHEALTHY
    assert sorted(result.stderr.splitlines()) == [
        "tracker: feed fetched is stale: not fetched successfully since "
        f"{[h for h in _health(sqlite_url) if h.name == 'fetched'][0].last_success} "
        "(more than 3 times its interval)",
        "tracker: feed never is stale: not fetched successfully ever (more than 3 times its "
        "interval)"]


def _health(url: str) -> list[feeds_app.FeedHealth]:
    tracker = open_tracker(url)
    try:
        return feeds_app.health(tracker)
    finally:
        tracker.close()


# -- OPML -----------------------------------------------------------------------------------------


def test_export_then_import_gives_the_same_subscriptions(tmp_path) -> None:
    source, target = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    ok(source, "feeds", "add", "delta", str(DELTA), "--allow-local", "--every", "2h",
       "--tag", "sample", "--tag", "wire", "--publisher", "Delta Trade Wire", "--tier", "wire")
    ok(source, "feeds", "add", "intranet", "http://news.corp.internal/rss.xml",
       "--allow-private", "--tier", "official")
    ok(source, "feeds", "add", "chinese", "https://news.example.org/中文/rss?x=1&y=2",
       "--tag", "zh")
    exported = ok(source, "feeds", "export", "--format", "opml").stdout
    assert exported.startswith("<?xml") and "<opml" in exported
    (tmp_path / "feeds.opml").write_text(exported, encoding="utf-8")

    ok(target, "status")  # a new database, following the default feeds
    before = head(target)
    refused = cli(target, "feeds", "import", str(tmp_path / "feeds.opml"))
    assert refused.exit_code == EXIT_USAGE
    assert "--allow" in refused.stderr  # a local file or an internal feed needs leave
    assert head(target) == before  # all or nothing
    done = ok(target, "feeds", "import", str(tmp_path / "feeds.opml"), "--allow-local",
              "--allow-private")
    assert done.stdout.splitlines()[-1] == (
        f"imported {len(subs(source))} feed(s): 3 new, 0 changed, "
        f"{len(subs(source)) - 3} already followed")
    assert subs(target) == subs(source)
    # importing again changes nothing, and needs no leave for feeds already followed
    again = ok(target, "feeds", "import", str(tmp_path / "feeds.opml"))
    assert again.stdout.strip().endswith("0 new, 0 changed, 18 already followed")
    assert subs(target) == subs(source)
    # and the exports of both databases are the same document
    assert ok(target, "feeds", "export").stdout == exported


def test_import_from_stdin_and_a_feed_reader(sqlite_url) -> None:
    opml = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>My reader</title></head><body>
  <outline text="Hong Kong">
    <outline type="rss" text="South China Morning Post" xmlUrl="https://www.scmp.com/rss/5/feed"
             category="news,hk"/>
    <outline text="Business"><outline type="rss" title="Caixin 财新" text="x"
             xmlUrl="https://caixin.example/rss"/></outline>
  </outline>
  <outline type="rss" text="South China Morning Post" xmlUrl="https://www.scmp.com/rss/4/feed"/>
  <outline type="rss" text="dup" xmlUrl="https://www.scmp.com/rss/5/feed"/>
</body></opml>"""
    tracker = open_tracker(sqlite_url)
    tracker.close()
    result = cli(sqlite_url, "feeds", "import", "-", stdin=opml.encode())
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "following south-china-morning-post", "following caixin",
        "following south-china-morning-post-2",
        "imported 3 feed(s): 3 new, 0 changed, 0 already followed"]
    found = subs(sqlite_url)
    assert found["south-china-morning-post"]["tags"] == ("hong-kong", "news", "hk")
    assert found["caixin"]["tags"] == ("hong-kong", "business")
    assert found["caixin"]["tier"] == "unrated"
    assert found["south-china-morning-post-2"]["url"] == "https://www.scmp.com/rss/4/feed"


def test_import_conflicts_are_refused_whole(sqlite_url, tmp_path) -> None:
    ok(sqlite_url, "status")
    other = tmp_path / "other.opml"
    other.write_text(
        '<opml version="2.0"><body>'
        '<outline type="rss" text="new-one" xmlUrl="https://new.example/rss"/>'
        f'<outline type="rss" text="hk-copy" xmlUrl="{HKGOV}"/>'
        '</body></opml>', encoding="utf-8")
    before = head(sqlite_url)
    one_line_error(cli(sqlite_url, "feeds", "import", str(other)), EXIT_ALREADY,
             "hk-copy", "already followed as 'hkgov-press-en'")
    assert head(sqlite_url) == before and "new-one" not in subs(sqlite_url)
    renamed = tmp_path / "renamed.opml"
    renamed.write_text('<opml version="2.0"><body><outline type="rss" text="hkgov-press-en" '
                       'xmlUrl="https://elsewhere.example/rss"/></body></opml>',
                       encoding="utf-8")
    one_line_error(cli(sqlite_url, "feeds", "import", str(renamed)), EXIT_ALREADY,
             "hkgov-press-en", "already follows", "--force")
    assert head(sqlite_url) == before
    forced = ok(sqlite_url, "feeds", "import", str(renamed), "--force")
    assert "changed hkgov-press-en" in forced.stdout
    assert subs(sqlite_url)["hkgov-press-en"]["url"] == "https://elsewhere.example/rss"


@pytest.mark.parametrize("body, fragment", [
    (b"<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY a 'aaaa'>]><opml><body>&a;</body></opml>",
     "DTDs and entities are refused"),
    (b"<rss version='2.0'><channel/></rss>", "not OPML"),
    (b"<opml version='2.0'><head/></opml>", "no <body>"),
    (b"not xml at all <", "not XML"),
    (b"<opml><body><outline text='x y' xmlUrl='ftp://x.example/'/></body></opml>",
     "feed 'x-y'"),
    (b"<opml><body><outline text='a' xmlUrl='https://u:p@x.example/'/></body></opml>",
     "credentials"),
])
def test_a_bad_opml_file_is_one_line(sqlite_url, tmp_path, body, fragment) -> None:
    ok(sqlite_url, "status")
    path = tmp_path / "bad.opml"
    path.write_bytes(body)
    before = head(sqlite_url)
    one_line_error(cli(sqlite_url, "feeds", "import", str(path)), EXIT_USAGE, fragment)
    assert head(sqlite_url) == before


def test_billion_laughs_is_refused_before_expansion() -> None:
    from tests.support.paths import INGEST_FIXTURES
    from tracker.opml import OpmlError

    with pytest.raises(OpmlError, match="DTDs and entities"):
        parse((INGEST_FIXTURES / "billion_laughs.xml").read_bytes())


@pytest.mark.parametrize("title, name", [
    ("scmp-china", "scmp-china"), ("South China Morning Post", "south-china-morning-post"),
    ("Caixin 财新", "caixin"), ("  RTHK: Local  ", "rthk-local"), ("新华", ""),
])
def test_slug(title, name) -> None:
    assert slug(title) == name


# -- shell completion -----------------------------------------------------------------------------


def completions(args: list[str], incomplete: str, env: dict[str, str] | None = None
                ) -> list[str]:
    complete = ShellComplete(main, {}, "tracker", "_TRACKER_COMPLETE")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        return [item.value for item in complete.get_completions(args, incomplete)]


def test_feed_names_complete_from_the_database(sqlite_url, monkeypatch) -> None:
    ok(sqlite_url, "status")
    rthk = ["rthk-finance-en", "rthk-greaterchina-en", "rthk-local-en", "rthk-local-zh"]
    assert completions(["--database-url", sqlite_url, "ingest", "--feed"], "rthk") == rthk
    assert completions(["ingest", "--database-url", sqlite_url, "--feed"], "rthk-l") == \
        rthk[2:]  # the global option after the command counts too
    monkeypatch.setenv("TRACKER_DATABASE_URL", sqlite_url)
    assert completions(["feeds", "remove"], "xin") == ["xinhua-china-en"]
    assert completions(["feeds", "add"], "china-daily-") == ["china-daily-business",
                                                              "china-daily-china"]
    assert completions(["feeds", "remove"], "nothing") == []


def test_completion_never_creates_a_database(tmp_path) -> None:
    missing = tmp_path / "missing.db"
    assert completions(["--database-url", str(missing), "feeds", "remove"], "") == []
    assert not missing.exists()
    broken = tmp_path / "tracker.toml"
    broken.write_text("not = [toml", encoding="utf-8")
    assert completions(["--config", str(broken), "feeds", "remove"], "") == []


def test_the_callback_itself(sqlite_url) -> None:
    ok(sqlite_url, "status")
    ctx = main.make_context("tracker", ["--database-url", sqlite_url, "feeds"],
                            resilient_parsing=True)
    items = feed_names(ctx, main.params[0], "hkgov")
    assert [(i.value, i.help) for i in items] == [
        ("hkgov-press-en", HKGOV),
        ("hkgov-press-zh", "https://www.info.gov.hk/gia/rss/general_zh.xml")]


def test_the_shell_scripts_and_protocol(sqlite_url, monkeypatch) -> None:
    ok(sqlite_url, "status")
    runner = CliRunner()
    script = runner.invoke(main, [], prog_name="tracker",
                           env={"_TRACKER_COMPLETE": "bash_source"})
    assert script.exit_code == 0 and "_TRACKER_COMPLETE=bash_complete" in script.output
    answer = runner.invoke(main, [], prog_name="tracker", env={
        "_TRACKER_COMPLETE": "bash_complete", "COMP_WORDS": "tracker feeds remove xin",
        "COMP_CWORD": "3", "TRACKER_DATABASE_URL": sqlite_url})
    assert answer.output.split() == ["plain,xinhua-china-en"]


def test_readme_documents_completion() -> None:
    from tests.support.paths import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'eval "$(_TRACKER_COMPLETE=bash_source tracker)"' in text
