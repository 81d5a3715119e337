"""The dossier commands as a user runs them (click's CliRunner): status, timeline, diff, replay,
retract, correct, seed and catalogue."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.cli import cli, ok
from tests.support.clock import FakeClock
from tests.support.markdown import as_read
from tests.support.paths import SEED_FILE
from tracker import dossier
from tracker.app import open_tracker
from tracker.catalogue import CATALOGUE, RETRACTED
from tracker.cli import main
from tracker.dates import UNDATED_AT, period_end
from tracker.errors import EXIT_ALREADY
from tracker.projections import PROJECTIONS
from tracker.projections.fold import wanted_types
from tracker.projections.timeline import Timeline
from tracker.seeding import parse_occurred

SEED = json.loads(SEED_FILE.read_text(encoding="utf-8"))
POLICY = SEED["dossier_id"]
T1 = datetime(2026, 1, 1, tzinfo=UTC)


def assert_one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def events(url: str) -> list[dict[str, Any]]:
    out = ok(url, "log", "--format", "jsonl").output
    return [json.loads(line) for line in out.splitlines()]


def seed_position(url: str, seed_key: str) -> int:
    found = [e["position"] for e in events(url)
             if e["meta"].get("seed_key") == seed_key and "corrects" not in e["meta"]]
    assert len(found) == 1, seed_key
    return found[0]


def seeded_at(url: str, when: datetime = T1) -> str:
    """A database seeded with the packaged seeds, recorded at ``when`` (a past time)."""
    tracker = open_tracker(url, FakeClock(when))
    dossier.load_seeds(tracker)
    tracker.close()
    return url


def text_rows(text: str) -> list[str]:
    """Rendered text rows, wrapped lines joined back (continuations are indented 3+ deeper)."""
    rows: list[list[Any]] = []
    for line in text.splitlines():
        if not line.strip():
            rows.append([-1, ""])
            continue
        indent = len(line) - len(line.lstrip())
        if rows and rows[-1][0] >= 0 and indent >= rows[-1][0] + 3:
            rows[-1][1] += " " + line.strip()
        else:
            rows.append([indent, line.strip()])
    return [r[1] for r in rows if r[1]]


def policy_json(url: str, *args: str) -> dict[str, Any]:
    report = json.loads(ok(url, "status", "--format", "json", *args).output)
    [policy] = report["policies"]
    return policy


def facts(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in policy["facts"]}


MARKER = re.compile(r"\[#(\d+)(?: ¶\d+)?\]$")


# -- status ----------------------------------------------------------------------------------

def test_status_text_on_a_fresh_database(sqlite_url):
    result = ok(sqlite_url, "status")
    text = result.output
    rows = text_rows(text)

    def row_with(*needles: str) -> str:
        found = [r for r in rows if all(n in r for n in needles)]
        assert found, needles
        return found[0]

    title = next(e for e in SEED["events"] if e["type"] == "policy.tracked")["data"]["title"]
    assert title in text
    expected = {
        ("HKSAR Government",): "party-hksar-government",
        ("Zhejiang provincial government",): "party-zhejiang-government",
        ("Supply-chain services tailored to mainland companies",): "fact-purpose",
        ("more than 50 projects", "technological innovation", "trade", "housing"):
            "agreement-projects",
        ("technological innovation, trade, housing", "supply-chain services"): "fact-sectors",
        ("up to 145%",): "context-us-tariffs",
        ("Nvidia", "export controls", "since 2022"): "context-nvidia-export-ban",
    }
    for needles, seed_key in expected.items():
        row = row_with(*needles)
        match = MARKER.search(row)
        assert match, row
        assert int(match.group(1)) == seed_position(sqlite_url, seed_key), row
    assert "Sources" in text and "seed-000" in text


def test_status_json_contract(sqlite_url):
    report = json.loads(ok(sqlite_url, "status", "--format", "json").output)
    log = events(sqlite_url)
    last_seed = max(e["position"] for e in log if e["stream_id"] == f"dossier:{POLICY}")
    assert isinstance(report["position"], int) and report["position"] == last_seed
    assert "as_of" in report and report["as_of"] is None
    assert isinstance(report["policies"], list) and len(report["policies"]) == 1
    [policy] = report["policies"]
    assert {"id", "title", "status", "parties", "facts", "open_questions",
            "updated_at"} <= set(policy)
    assert policy["id"] == POLICY and policy["status"] == "announced"
    assert policy["parties"] == ["HKSAR Government", "Zhejiang provincial government"]
    assert policy["facts"]
    by_position = {e["position"]: e for e in log}
    for fact in policy["facts"]:
        assert {"key", "value", "sources"} <= set(fact)
        assert fact["sources"], fact["key"]
        for source in fact["sources"]:
            assert set(source) >= {"position", "citation"}
            citation = source["citation"]
            assert citation["publication"] and isinstance(citation["paragraph"], int)
            # the citation is the one the cited event carries
            assert by_position[source["position"]]["meta"]["source"] == citation
    assert [q["text"] for q in policy["open_questions"]] == [
        e["data"]["text"] for e in SEED["events"] if e["type"] == "question.opened"]
    assert re.match(r"\d{4}-\d{2}-\d{2}T", policy["updated_at"])
    agreement = facts(policy)["agreement.visit-project-agreements"]["value"]
    assert (agreement["project_count"], agreement["count_qualifier"]) == (50, "more_than")


def test_status_json_smoke_on_both_databases(db_url):
    policy = policy_json(db_url)
    assert policy["id"] == POLICY
    assert facts(policy)["context.tariffs.us-tariffs-china"]["value"]["value"] == 145
    again = json.loads(ok(db_url, "status", "--format", "json").output)
    assert again["policies"][0] == policy


def test_status_markdown_has_headings_and_sources(sqlite_url):
    text = as_read(ok(sqlite_url, "status", "--format", "markdown").output)
    lines = text.splitlines()
    assert lines[0] == "# Policy status"
    title = next(e for e in SEED["events"] if e["type"] == "policy.tracked")["data"]["title"]
    assert f"## {title}" in lines
    assert "### Facts" in lines and "## Sources" in lines
    assert lines.index("## Sources") > lines.index("### Facts")
    legend = lines[lines.index("## Sources"):]
    assert any("seed-000" in line for line in legend)
    assert any("more than 50 projects" in line and "[#" in line for line in lines)


def test_world_as_of_2024_has_no_agreements(sqlite_url):
    policy = policy_json(sqlite_url, "--world-as-of", "2024")
    keys = set(facts(policy))
    assert keys and all(k.startswith("context.") for k in keys)
    assert not any(k.startswith("agreement.") for k in keys)
    assert policy["status"] is None


@pytest.mark.parametrize("bad", ["2025-13", "yesterdayish", "7x", ""])
def test_status_rejects_bad_when(sqlite_url, bad):
    ok(sqlite_url, "status")  # the database exists: only the WHEN is at fault
    line = assert_one_line_error(cli(sqlite_url, "status", "--as-of", bad))
    assert "WHEN" in line


# -- timeline and diff -------------------------------------------------------------------------

def _timeline_seed_periods() -> list[tuple[datetime, datetime]]:
    out = []
    for entry in SEED["events"]:
        if entry["type"] in Timeline.types:
            if entry.get("occurred_precision") == "undated":
                start, precision = UNDATED_AT, "undated"
            else:
                start, precision = parse_occurred(entry["occurred_at"],
                                                  entry.get("occurred_precision"))
            out.append((start, period_end(start, precision)))
    return out


def _timeline_counts(url: str, *args: str) -> tuple[int, int, int]:
    text = ok(url, "timeline", *args).output
    title = " ".join(itertools.takewhile(lambda line: line and not line.startswith(" "),
                                         text.splitlines()))  # the title may wrap
    header = re.match(r"Timeline \(.* (\d+) entries\)", title)
    assert header, title
    body = text.split("\nSources")[0]
    markers = len(re.findall(r"\[#\d+", body))
    report = json.loads(ok(url, "timeline", *args, "--format", "json").output)
    assert report["count"] == len(report["entries"])
    return int(header.group(1)), markers, report["count"]


def test_timeline_counts_agree_across_formats(sqlite_url):
    periods = _timeline_seed_periods()
    assert _timeline_counts(sqlite_url) == (len(periods),) * 3

    lower = datetime(2025, 4, 1, tzinfo=UTC)  # start of April
    upper = datetime(2025, 6, 1, tzinfo=UTC)  # end of May
    overlapping = [p for p in periods if p[1] > lower and p[0] < upper]
    assert 0 < len(overlapping) < len(periods)
    assert _timeline_counts(sqlite_url, "--since", "2025-04", "--until", "2025-05") == \
        (len(overlapping),) * 3


def test_diff_recorded_since_before_seeds_lists_added_facts(sqlite_url):
    seeded_at(sqlite_url)
    report = json.loads(ok(sqlite_url, "diff", "--recorded-since", "2025-12-31", "--format",
                           "json").output)
    assert report["before"]["position"] == 0
    [change] = report["policies"]
    assert change["id"] == POLICY
    status_facts = facts(policy_json(sqlite_url))
    assert {f["key"] for f in change["added"]} == set(status_facts)
    assert all(f["sources"] for f in change["added"])
    assert change["changed"] == [] and change["retracted"] == []

    text = ok(sqlite_url, "diff", "--recorded-since", "2025-12-31").output
    purpose = seed_position(sqlite_url, "fact-purpose")
    assert any(r.startswith("+ purpose") and f"[#{purpose} " in r for r in text_rows(text))
    # the seeds were recorded at the start of 2026-01-01: in that day, nothing after it
    assert json.loads(ok(sqlite_url, "diff", "--recorded-since", "2026-01-01", "--format",
                         "json").output)["policies"]
    after = json.loads(ok(sqlite_url, "diff", "--recorded-since", "2026-01-01T00:01",
                          "--format", "json").output)
    assert after["policies"] == []


def test_diff_requires_since(sqlite_url):
    result = cli(sqlite_url, "diff")
    assert result.exit_code == 2
    assert "--since" in result.output


# -- replay ----------------------------------------------------------------------------------

def _last_wanted(url: str, name: str) -> int:
    types = wanted_types(PROJECTIONS[name])
    return max((e["position"] for e in events(url) if e["type"] in types), default=0)


def test_replay_all_and_one(sqlite_url):
    ok(sqlite_url, "status")
    output = ok(sqlite_url, "replay").output
    lines = {m.group(1): int(m.group(2)) for m in
             re.finditer(r"^(\S+): rebuilt up to position (\d+)$", output, re.M)}
    assert set(lines) == set(PROJECTIONS)
    for name, position in lines.items():
        assert position == _last_wanted(sqlite_url, name), name

    one = ok(sqlite_url, "replay", "--projection", "policy_state").output
    found = re.findall(r"^(\S+): rebuilt up to position (\d+)$", one, re.M)
    assert found == [("policy_state", str(lines["policy_state"]))]
    assert policy_json(sqlite_url)["status"] == "announced"


def test_replay_unknown_projection(sqlite_url):
    ok(sqlite_url, "status")
    line = assert_one_line_error(cli(sqlite_url, "replay", "--projection", "nosuch"))
    assert "nosuch" in line


# -- retract and correct -----------------------------------------------------------------------

def test_retract_hides_fact_but_log_keeps_both(sqlite_url):
    ok(sqlite_url, "status")
    target = seed_position(sqlite_url, "fact-purpose")
    result = ok(sqlite_url, "retract", str(target), "--reason", "misreported")
    retraction = int(re.search(r"recorded at (\d+)", result.output).group(1))

    policy = policy_json(sqlite_url)
    assert "purpose" not in facts(policy)
    text = ok(sqlite_url, "status").output
    assert "Supply-chain services fitted to mainland companies" not in text
    assert f"#{target} " not in text and f"#{target}]" not in text

    log = ok(sqlite_url, "log").output.splitlines()
    by_position = {int(line.split()[0]): line for line in log}
    assert "policy.fact_asserted" in by_position[target]
    assert RETRACTED in by_position[retraction]
    recorded = {e["position"]: e for e in events(sqlite_url)}
    assert recorded[retraction]["data"]["target_position"] == target
    assert recorded[target]["data"]["key"] == "purpose"


def test_retract_errors_are_one_line(sqlite_url):
    ok(sqlite_url, "status")
    target = seed_position(sqlite_url, "fact-purpose")
    first = ok(sqlite_url, "retract", str(target), "--reason", "misreported")
    retraction = int(re.search(r"recorded at (\d+)", first.output).group(1))
    head = max(e["position"] for e in events(sqlite_url))

    line = assert_one_line_error(cli(sqlite_url, "retract", str(target), "--reason", "again"),
                                 EXIT_ALREADY)  # not a usage error: the log already holds it
    assert "already retracted" in line
    line = assert_one_line_error(cli(sqlite_url, "retract", "9999", "--reason", "x"))
    assert "9999" in line and str(head) in line
    line = assert_one_line_error(cli(sqlite_url, "retract", str(retraction), "--reason", "x"))
    assert "retraction" in line
    assert max(e["position"] for e in events(sqlite_url)) == head


def test_correct_project_count(sqlite_url):
    ok(sqlite_url, "status")
    target = seed_position(sqlite_url, "agreement-projects")
    result = ok(sqlite_url, "correct", str(target), "--set", "project_count=52",
                "--reason", "official list has 52")
    replacement = int(re.search(r"replacement at (\d+)", result.output).group(1))
    agreement = facts(policy_json(sqlite_url))["agreement.visit-project-agreements"]
    assert agreement["value"]["project_count"] == 52
    assert [s["position"] for s in agreement["sources"]] == [replacement]
    row = next(r for r in text_rows(ok(sqlite_url, "status").output) if "52 projects" in r)
    assert MARKER.search(row).group(1) == str(replacement)
    assert not any("50 projects" in r for r in text_rows(ok(sqlite_url, "status").output))


def test_correct_rejects_bad_assignments(sqlite_url):
    ok(sqlite_url, "status")
    target = seed_position(sqlite_url, "agreement-projects")
    head = max(e["position"] for e in events(sqlite_url))
    line = assert_one_line_error(cli(sqlite_url, "correct", str(target), "--set",
                                     "nosuchfield=1", "--reason", "x"))
    assert "nosuchfield" in line
    malformed = cli(sqlite_url, "correct", str(target), "--set", "project_count",
                    "--reason", "x")
    assert malformed.exit_code == 2
    assert "FIELD=VALUE" in malformed.output
    assert max(e["position"] for e in events(sqlite_url)) == head


# -- seed ----------------------------------------------------------------------------------------

def test_seed_twice_appends_nothing_new(sqlite_url):
    open_tracker(sqlite_url).close()  # migrated, empty: no seeding hook
    first = ok(sqlite_url, "seed").output
    head = max(e["position"] for e in events(sqlite_url))
    assert head >= len(SEED["events"])
    assert f"{head} new event(s), 0 already" in first
    second = ok(sqlite_url, "seed").output
    assert f"0 new event(s), {head} already" in second
    assert max(e["position"] for e in events(sqlite_url)) == head


def test_seed_missing_file(sqlite_url):
    ok(sqlite_url, "status")
    line = assert_one_line_error(cli(sqlite_url, "seed", "/no/such/file.json"))
    assert "/no/such/file.json" in line


def test_seed_bad_entry_names_file_and_entry_and_appends_nothing(sqlite_url, tmp_path):
    ok(sqlite_url, "status")
    head = max(e["position"] for e in events(sqlite_url))
    doc = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    doc["dossier_id"] = "another-dossier"  # fresh ids: the good entries would be new
    del doc["events"][5]["data"]["value"]
    bad_key = doc["events"][5]["key"]
    path = tmp_path / "broken-dossier.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    line = assert_one_line_error(cli(sqlite_url, "seed", str(path)))
    assert "broken-dossier.json" in line and "events[5]" in line and bad_key in line
    assert max(e["position"] for e in events(sqlite_url)) == head


# -- catalogue -----------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_catalogue_lists_every_type(fmt, tmp_path):
    result = CliRunner().invoke(main, ["--database-url", f"sqlite:///{tmp_path / 'x.db'}",
                                       "catalogue", "--format", fmt])
    assert result.exit_code == 0, result.output
    for name, spec in CATALOGUE.items():
        if fmt == "text":
            assert re.search(rf"^{re.escape(name)} v{spec.version}:", result.output, re.M), name
        else:
            assert f"`{name}` (v{spec.version})" in result.output, name
    assert not (tmp_path / "x.db").exists()


def test_a_changed_seed_is_refused_with_what_to_do_and_nothing_is_written(db_url, tmp_path):
    earlier = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    earlier.pop("rules", None)  # its rules file is not beside the copy
    earlier["events"][0]["data"]["title"] = "An earlier title"
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps(earlier, ensure_ascii=False), encoding="utf-8")
    open_tracker(db_url).close()
    ok(db_url, "seed", str(path))
    before = events(db_url)

    result = cli(db_url, "seed", str(SEED_FILE))

    message = assert_one_line_error(result)
    assert "earlier version of the seed" in message and "tracker correct" in message
    assert events(db_url) == before
