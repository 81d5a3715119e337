"""Export and import: a whole log moved between SQLite and PostgreSQL, verbatim and checked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from tracker.app import Tracker, open_tracker
from tracker.cli import main
from tracker.errors import TrackerError
from tracker.events import GENESIS_HASH, NewEvent, canonical_json, chain_hash
from tracker.transfer import MAX_DEPTH, MAX_LINE, ImportResult, export_events, import_events

APRIL = datetime(2025, 4, 1, tzinfo=UTC)
EVENT_COUNT = 12


def populate(tracker: Tracker, clock) -> None:
    """A small log exercising what must survive the trip: precisions, microseconds, unicode,
    floats, nesting, and an old schema version that reads upcast but is stored raw."""
    for i in range(EVENT_COUNT - 1):
        clock.advance(seconds=1.234567 * (i + 1))
        precision = ("instant", "day", "month", "year")[i % 4]
        tracker.store.append(f"stream-{i % 3}", [NewEvent(
            "test.appended",
            {"n": i, "ratio": i / 7, "text": "Zölle – 关税 \u2028 \"q\"",
             "nested": {"k": [i, None]}},
            datetime(2025, 4, 3, 12, 30, 15, 123456, tzinfo=UTC), precision,
            {"source": {"id": f"src-{i}"}})])
    tracker.store.append("ctx", [NewEvent("context.recorded", {
        "policy_id": "p", "thread": "tariffs", "measure_id": "m", "title": "US tariffs",
        "rate": "145%"}, APRIL, "month", schema_version=1)])


@pytest.fixture
def source(db_url, clock) -> Iterator[Tracker]:
    tracker = open_tracker(db_url, clock)
    populate(tracker, clock)
    yield tracker
    tracker.close()


@pytest.fixture
def target(db_url, request) -> Iterator[Tracker]:
    """A fresh database on the other backend from ``db_url``."""
    other = "pg_url" if db_url.startswith("sqlite") else "sqlite_url"
    tracker = open_tracker(str(request.getfixturevalue(other)))
    yield tracker
    tracker.close()


def exported(tracker: Tracker) -> list[str]:
    out = io.StringIO()
    export_events(tracker.store, out)
    return out.getvalue().splitlines(keepends=True)


def raw_log(tracker: Tracker) -> list[dict[str, object]]:
    return [e.as_dict() for e in tracker.store.read(upcast=False)]


def test_header_and_one_line_per_event(source):
    out = io.StringIO()
    seen: list[int] = []
    assert export_events(source.store, out, progress=seen.append) == EVENT_COUNT
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""
    header = json.loads(lines[0])
    last = source.store.get(EVENT_COUNT)
    assert header == {"tracker_export": 1, "events": EVENT_COUNT,
                      "head_position": EVENT_COUNT, "head_hash": last.hash}
    assert [json.loads(line)["position"] for line in lines[1:-1]] == list(
        range(1, EVENT_COUNT + 1))
    assert json.loads(lines[EVENT_COUNT])["schema_version"] == 1
    assert sum(seen) == EVENT_COUNT
    assert all(line.isascii() for line in lines)


def test_round_trip_to_the_other_backend_is_verbatim(source, target):
    lines = exported(source)
    seen: list[int] = []
    result = import_events(target, lines, progress=seen.append, batch_size=5)
    assert result == ImportResult(imported=EVENT_COUNT, skipped=0)
    assert sum(seen) == EVENT_COUNT
    assert raw_log(target) == raw_log(source)
    moved = {e.event_id: e for e in target.store.read(upcast=False)}
    for original in source.store.read(upcast=False):
        copy = moved[original.event_id]
        assert (copy.position, copy.occurred_at, copy.recorded_at, copy.hash) == (
            original.position, original.occurred_at, original.recorded_at, original.hash)
    assert target.store.verify().ok
    assert target.store.verify().checked == EVENT_COUNT
    assert [e.data for e in target.store.read()] == [e.data for e in source.store.read()]
    assert exported(target) == lines


def test_importing_twice_changes_nothing(source, target):
    lines = exported(source)
    import_events(target, lines)
    before = raw_log(target)
    assert import_events(target, lines, batch_size=4) == ImportResult(0, EVENT_COUNT)
    assert raw_log(target) == before


def test_interrupted_import_leaves_nothing_and_runs_again_whole(source, target):
    lines = exported(source)

    def interrupted() -> Iterator[str]:
        yield from lines[:8]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_events(target, interrupted(), batch_size=3)
    assert target.store.head() == 0  # two batches were written, in a transaction never committed
    assert import_events(target, lines, batch_size=3) == ImportResult(EVENT_COUNT, 0)
    assert raw_log(target) == raw_log(source)


def test_appending_after_an_import_continues_the_chain(source, target):
    import_events(target, exported(source))
    [event] = target.store.append("later", [NewEvent("test.appended", {"n": 99}, APRIL)])
    assert event.position == EVENT_COUNT + 1
    assert target.store.verify().ok


def _retamper(line: str, **changes: object) -> str:
    value = json.loads(line)
    value.update(changes)
    return json.dumps(value) + "\n"


def _rehashed(line: str, prev_hash: str) -> str:
    """A line whose own hash is recomputed over a changed ``prev_hash``: only the link breaks."""
    value = json.loads(line)
    value["prev_hash"] = prev_hash
    value["hash"] = chain_hash(
        prev_hash, position=value["position"], event_id=value["event_id"],
        stream_id=value["stream_id"], stream_version=value["stream_version"],
        type=value["type"], schema_version=value["schema_version"],
        occurred_at=value["occurred_at"], occurred_precision=value["occurred_precision"],
        recorded_at=value["recorded_at"], data_json=canonical_json(value["data"]),
        meta_json=canonical_json(value["meta"]))
    return json.dumps(value) + "\n"


@pytest.mark.parametrize("damage,line_no,message", [
    (lambda ls: ls.__setitem__(4, _retamper(ls[4], data={"n": 666})), 5, "does not match"),
    (lambda ls: ls.__setitem__(3, "{not json\n"), 4, "not JSON"),
    (lambda ls: ls.__setitem__(2, json.dumps({
        k: v for k, v in json.loads(ls[2]).items() if k != "hash"}) + "\n"), 3, "missing"),
    (lambda ls: ls.__delitem__(6), 7, "does not follow"),
    (lambda ls: ls.__setitem__(6, _rehashed(ls[6], GENESIS_HASH)), 7, "prev_hash"),
    (lambda ls: ls.__setitem__(2, _retamper(ls[2], occurred_at="2025-04-03")), 3, "occurred_at"),
    (lambda ls: ls.__setitem__(0, '{"something": "else"}\n'), 1, "not a tracker export"),
    (lambda ls: ls.__delitem__(EVENT_COUNT), EVENT_COUNT, "truncated"),
    (lambda ls: ls.__setitem__(2, _retamper(ls[2], extra=1)), 3, "unexpected field"),
], ids=["tampered-data", "not-json", "missing-field", "missing-line", "broken-link",
        "bad-time", "no-header", "truncated", "extra-field"])
def test_bad_input_is_refused_with_its_line_and_nothing_written(source, target, damage,
                                                                 line_no, message):
    lines = exported(source)
    damage(lines)
    with pytest.raises(TrackerError, match=rf"^line {line_no}: .*{message}"):
        import_events(target, lines)
    assert target.store.head() == 0


def test_a_bad_line_after_whole_batches_writes_none_of_them(source, target):
    lines = exported(source)
    lines[9] = _retamper(lines[9], data={"n": 666})
    with pytest.raises(TrackerError, match="^line 10: "):
        import_events(target, lines, batch_size=4)
    assert target.store.head() == 0  # lines 2-9 made two batches, rolled back with the rest


def test_a_bad_line_leaves_a_partly_filled_target_as_it_was(source, target):
    lines = exported(source)
    header = {**json.loads(lines[0]), "events": 5, "head_position": 5,
              "head_hash": json.loads(lines[5])["hash"]}
    assert import_events(target, [json.dumps(header) + "\n", *lines[1:6]]) == ImportResult(5, 0)
    before = raw_log(target)
    damaged = list(lines)
    damaged[EVENT_COUNT] = _retamper(damaged[EVENT_COUNT], data={"n": 666})
    with pytest.raises(TrackerError, match=f"^line {EVENT_COUNT + 1}: "):
        import_events(target, damaged, batch_size=2)
    assert raw_log(target) == before
    assert import_events(target, lines, batch_size=2) == ImportResult(EVENT_COUNT - 5, 5)
    assert raw_log(target) == raw_log(source)


def test_a_line_over_the_size_limit_is_refused_by_number(source, target, tmp_path):
    lines = exported(source)
    lines[3] = '{"data": "' + "x" * MAX_LINE + '"}\n'
    path = tmp_path / "big.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    for mode in ("r", "rb"):
        with path.open(mode) as file, \
                pytest.raises(TrackerError, match=r"^line 4: longer than 1048576 characters"):
            import_events(target, file)
    with pytest.raises(TrackerError, match=r"^line 4: longer than"):
        import_events(target, lines)
    assert target.store.head() == 0


def test_a_line_of_exactly_the_size_limit_is_read(target):
    empty = '{"tracker_export":1,"events":0,"head_position":0,"head_hash":null,"pad":"'
    header = empty + "x" * (MAX_LINE - len(empty) - 2) + '"}'
    assert len(header) == MAX_LINE
    assert import_events(target, io.StringIO(header + "\n")) == ImportResult(0, 0)


def _nested(levels: int) -> object:
    value: object = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("levels,accepted", [(MAX_DEPTH - 2, True), (MAX_DEPTH - 1, False)])
def test_json_nesting_is_bounded_and_refused_by_number(source, target, levels, accepted):
    """A line's object is one level and ``data`` another: ``levels`` more inside it."""
    source.store.append("deep", [NewEvent("test.appended", {"d": _nested(levels)}, APRIL)])
    lines = exported(source)
    if accepted:
        assert import_events(target, lines) == ImportResult(EVENT_COUNT + 1, 0)
        assert raw_log(target) == raw_log(source)
        return
    with pytest.raises(TrackerError,
                       match=rf"^line {EVENT_COUNT + 2}: JSON nested deeper than {MAX_DEPTH}"):
        import_events(target, lines)
    assert target.store.head() == 0


def test_a_deeply_nested_line_is_refused_not_a_crash(source, target):
    lines = exported(source)
    lines[2] = '{"data": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    with pytest.raises(TrackerError, match=rf"^line 3: JSON nested deeper than {MAX_DEPTH}"):
        import_events(target, lines)


def test_brackets_inside_strings_are_not_nesting(source, target):
    source.store.append("s", [NewEvent("test.appended", {
        "text": "[{" * 200 + '\\"[' + "]" * 3, "nested": [[{"k": "]}"}]]}, APRIL)])
    lines = exported(source)
    assert import_events(target, lines) == ImportResult(EVENT_COUNT + 1, 0)
    assert raw_log(target) == raw_log(source)


def test_text_that_is_not_utf8_is_refused_by_number(source, target, tmp_path):
    lines = exported(source)
    path = tmp_path / "latin1.jsonl"
    path.write_bytes("".join(lines[:3]).encode() + b'{"caf\xe9": 1}\n')
    with path.open("rb") as file, \
            pytest.raises(TrackerError, match=r"^line 4: not UTF-8 text"):
        import_events(target, file)
    with path.open(encoding="utf-8") as file, \
            pytest.raises(TrackerError, match=r"^line 1 or soon after: not UTF-8 text"):
        import_events(target, file)  # a text file's decoder reads ahead of the lines
    assert target.store.head() == 0


def test_a_target_with_other_events_is_refused(source, target):
    target.store.append("mine", [NewEvent("test.appended", {"n": "local"}, APRIL)])
    before = raw_log(target)
    with pytest.raises(TrackerError, match="^line 2: the target holds a different event at "
                                           "position 1"):
        import_events(target, exported(source))
    assert raw_log(target) == before


def test_a_target_ahead_of_the_export_skips_it_all(source, target):
    lines = exported(source)
    import_events(target, lines)
    target.store.append("later", [NewEvent("test.appended", {"n": 99}, APRIL)])
    assert import_events(target, lines) == ImportResult(0, EVENT_COUNT)
    assert target.store.head() == EVENT_COUNT + 1


def test_empty_log_round_trip(db_url, target):
    empty = open_tracker(db_url)
    try:
        lines = exported(empty)
    finally:
        empty.close()
    assert json.loads(lines[0]) == {"tracker_export": 1, "events": 0, "head_position": 0,
                                    "head_hash": None}
    assert import_events(target, lines) == ImportResult(0, 0)
    assert import_events(target, lines) == ImportResult(0, 0)


def test_empty_input_is_refused(target):
    with pytest.raises(TrackerError, match="^line 1: empty input"):
        import_events(target, [])


def test_cli_import_refuses_a_late_bad_line_in_one_line_and_writes_nothing(source, target,
                                                                           tmp_path):
    lines = exported(source)
    lines[EVENT_COUNT] = _retamper(lines[EVENT_COUNT], data={"n": 666})
    path = tmp_path / "damaged.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["--database-url", target.url, "import", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"tracker: line {EVENT_COUNT + 1}: content does not match its hash (position "
        f"{EVENT_COUNT})")
    assert target.store.head() == 0


def test_cli_import_reads_standard_input(source, target):
    data = "".join(exported(source)).encode()
    result = CliRunner().invoke(main, ["--database-url", target.url, "import", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert f"imported {EVENT_COUNT} event(s), 0 already present" in result.stdout
    assert raw_log(target) == raw_log(source)
