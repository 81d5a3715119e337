"""The store's fast paths give exactly what the plain ones give: the orjson encoder's text (hence
every hash), ``append_positions``, COPY on PostgreSQL, the DBAPI read path with lazily decoded
meta, and the retry policy of appends."""

from __future__ import annotations

import enum
import json
import math
import pickle
import uuid
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import tracker.store.append as append_module
from tracker.app import open_tracker
from tracker.db import RETRY_ATTEMPTS, write_connection
from tracker.errors import ConcurrencyError, DuplicateEventError
from tracker.events import NewEvent, RecordedEvent, canonical_json, deterministic_id
from tracker.store.append import COPY_MIN_ROWS
from tracker.store.codec import decode_object, encode, encode_stdlib, plain

APRIL = datetime(2025, 4, 1, tzinfo=UTC)

TRICKY_TEXT = ("\x00\x01\x1f\x7f \"\\/\b\f\n\r\t é 关税 \u2028\u2029 \ud7ff\ue000\uffff "
               "\U00010000\U0001f600\U0010ffff")


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


class Name(enum.StrEnum):
    A = "a"


def _same_as_stdlib(value: object) -> None:
    """``encode`` gives ``canonical_json``'s text, or raises what it raises."""
    try:
        expected = canonical_json(value)
    except Exception as exc:  # the same error, whichever encoder ran
        with pytest.raises(type(exc)):
            encode(value)
        return
    assert encode(value) == expected
    assert encode_stdlib(value) == expected


@pytest.mark.parametrize("value", [
    {},
    {"a": 1, "B": 2, "é": 3, "\ue000": 4, "\U00010000": 5, "": 6, "a\x00": 7, "Z": 8},
    {"text": TRICKY_TEXT, TRICKY_TEXT: [TRICKY_TEXT, {"k": TRICKY_TEXT}]},
    {"ints": [0, -1, 2**63 - 1, -2**63, 2**64 - 1, 2**64, -2**63 - 1, 10**40]},
    {"flags": [True, False, None], "tuple": (1, "x", (2,)), "nested": {"a": {"b": {"c": []}}}},
    {"floats": [1.5, 1e-07, 1e16, 1e22, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]},
    {"nan": math.nan}, {"inf": [math.inf]},
    {1: "int key"}, {"a": {2: "nested int key", 1: "x"}}, {None: 1}, {True: 1},
    {"uuid": uuid.UUID(int=1)}, {"enum": Colour.RED}, {"intenum": Level.ONE},
    {"strenum": Name.A}, {"date": APRIL}, {"set": {1}}, {"bytes": b"x"},
    {"deep": [[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]},
])
def test_the_fast_encoder_writes_the_stdlib_text_or_raises_its_error(value):
    _same_as_stdlib(value)


def test_the_fast_encoder_matches_the_stdlib_on_generated_values():
    import random

    rng = random.Random(14)
    pieces = ["a", "B", "é", "\x00", "\x1f", "\x7f", "\"", "\\", "\u2028", "\ue000",
              "\U0001f600", "", " ", "z"]

    def text() -> str:
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))

    def value(depth: int) -> object:
        kind = rng.randint(0, 9 if depth < 4 else 5)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.randint(-2**70, 2**70) if rng.random() < 0.1 else rng.randint(-99, 99)
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return rng.choice([0.5, 1e-7, -0.0, 3.0, 1e16]) if rng.random() < 0.1 else text()
        if kind == 4:
            return text()
        if kind == 5:
            return rng.randint(0, 9)
        if kind <= 7:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {text(): value(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(3000):
        _same_as_stdlib({text(): value(0) for _ in range(rng.randint(0, 5))})


@pytest.mark.parametrize("text", [
    '{"a":1}', '{"big":18446744073709551616,"neg":-9223372036854775809}',
    '{"u64":18446744073709551615,"i64":-9223372036854775808,"zero":-0}',
    '{"f":[1.5,1e-07,1E400,-0.0,5e-324,0.30000000000000004,1.0]}',
    '{"nan":NaN}', '{"s":"\\ud800"}', '{"s":"\\ud83d\\ude00 \\u0000 \\n é"}',
    '{"a":1,"a":2}', ' {"lead": "space"} ', '{"deep":[[[[[[[{"x":null}]]]]]]],"t":true}',
    '{"f":0.5,"big":18446744073709551616}', '{"f":[0.25,[-9223372036854775809]]}',
    '{"f":0.1,"i":9223372036854775807,"j":-9223372036854775808}',
])
def test_the_fast_decoder_reads_what_json_loads_reads(text):
    expected = json.loads(text)
    got = decode_object(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    if "big" in expected:  # orjson alone would give a float
        assert type(got["big"]) is int and got["big"] == 2**64


def test_the_fast_decoder_reads_every_float_as_json_loads_does():
    """Floats decoded through orjson must be the very floats ``json.loads`` gives (a value
    holding one is no longer decoded twice): bit patterns, decimals of every length, huge and
    tiny exponents, and floats next to integers of 18 digits."""
    import random
    import struct

    rng = random.Random(11)
    texts = ["2.2250738585072011e-308", "4.9e-324", "1.7976931348623157e308", "1e23",
             "0.30000000000000004441", "9007199254740993.0", "-0.0", "1E5", "1.5e+10"]
    for _ in range(20_000):
        bits = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(bits):
            texts.append(repr(bits))
        texts.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(1, 25)}f}")
        texts.append(f"{rng.randint(1, 10 ** rng.randint(1, 17))}e{rng.randint(-330, 310)}")
    for text in texts:
        document = f'{{"f":{text},"n":{rng.randint(-10**17, 10**17)}}}'
        expected = json.loads(document)
        got = decode_object(document)
        assert repr(got) == repr(expected), document


def test_plain_admits_only_what_orjson_writes_as_the_stdlib_does():
    assert plain({"a": [1, "x", None, True, {"b": ("c",)}]})
    for odd in (1.5, uuid.UUID(int=1), Colour.RED, Level.ONE, Name.A, APRIL, {1}, b"x"):
        assert not plain({"a": [odd]})


def test_a_log_written_by_both_encoders_verifies(db_url, clock, monkeypatch):
    """Events appended with the stdlib encoder alone, then with the fast one: the stored texts
    are the same for the same content, and the whole chain verifies."""
    tracker = open_tracker(db_url, clock)
    store = tracker.store

    def batch(tag: str) -> list[NewEvent]:
        return [NewEvent("test.appended", {"n": i, "text": TRICKY_TEXT, "ratio": i / 7,
                                           "big": 2**65, "tag": tag},
                         APRIL, "day", {"source": {"id": f"s-{i}", "url": "https://x.example"}})
                for i in range(60)]

    try:
        monkeypatch.setattr(append_module, "encode", encode_stdlib)
        store.append_positions("before", batch("a"))
        store.append("before", [NewEvent("test.appended", {"n": -1}, APRIL)])
        monkeypatch.undo()
        store.append_positions("after", batch("a"))
        store.append("after", [NewEvent("test.appended", {"n": -1}, APRIL)])
        assert store.verify().ok
        with tracker.engine.connect() as conn:
            text = "" if tracker.engine.dialect.name == "sqlite" else "::text"
            rows = conn.exec_driver_sql(
                f"SELECT stream_id, stream_version, data{text}, meta{text} FROM events "
                "ORDER BY position").all()
        by_stream: dict[str, list[tuple[str, str]]] = {}
        for stream, _version, data, meta in rows:
            by_stream.setdefault(stream, []).append((data, meta))
            assert data == canonical_json(json.loads(data))
        assert by_stream["before"] == by_stream["after"]
    finally:
        tracker.close()


def test_append_positions_stores_what_append_stores(db_url, clock):
    a = open_tracker(db_url, clock)
    try:
        events = [NewEvent("test.appended", {"n": i}, APRIL, "instant", {"source": {"id": "x"}},
                           deterministic_id("fast", str(i))) for i in range(COPY_MIN_ROWS + 5)]
        returned = a.store.append("s", events[:3])
        positions = a.store.append_positions("s", events[3:])
        assert [e.position for e in returned] == [1, 2, 3]
        assert positions == list(range(4, len(events) + 1))
        # idempotent re-appends give the stored positions, in append's order
        assert a.store.append_positions("s", events[:5]) == [1, 2, 3, 4, 5]
        again = a.store.append("s", [events[1], NewEvent("test.appended", {"n": 99}, APRIL)])
        assert [e.position for e in again] == [2, len(events) + 1]
        with pytest.raises(DuplicateEventError, match="different content"):
            a.store.append_positions("s", [NewEvent("test.appended", {"n": -5}, APRIL,
                                                    event_id=events[0].event_id)])
        with pytest.raises(ConcurrencyError, match="expected 0"):
            a.store.append_positions("s", [NewEvent("test.appended", {"n": 7}, APRIL)], 0)
        with write_connection(a.engine) as conn, conn.begin():
            assert a.store.append_positions_in(conn, "s", [events[0]]) == [1]
            assert a.store.append_positions_in(conn, "t", [
                NewEvent("test.appended", {"n": 8}, APRIL)]) == [len(events) + 2]
        stored = list(a.store.read())
        assert [e.position for e in stored] == list(range(1, len(events) + 3))
        assert [e.data["n"] for e in stored[:len(events)]] == list(range(len(events)))
        assert a.store.verify().ok
    finally:
        a.close()


def test_a_copy_batch_reads_back_as_appended(db_url, clock):
    """A batch past the COPY threshold (on PostgreSQL) with the awkward values COPY escapes."""
    tracker = open_tracker(db_url, clock)
    try:
        events = [NewEvent("test.appended", {"n": i, "text": TRICKY_TEXT + "\\N\t\\.",
                                             "nested": {"list": [i, None, "a\nb"]}},
                           APRIL + timedelta(microseconds=i), "instant",
                           {"source": {"id": "x", "note": "tab\there"}})
                  for i in range(COPY_MIN_ROWS * 2)]
        returned = tracker.store.append("s", events)
        assert list(tracker.store.read()) == returned
        assert tracker.store.verify().ok
    finally:
        tracker.close()


def test_a_conflicting_copy_batch_raises_sqlalchemys_integrity_error(db_url, clock):
    """``insert_verbatim`` (import) of a batch that collides with a stored row: the driver's
    error comes out as SQLAlchemy's, whichever way the rows went in."""
    tracker = open_tracker(db_url, clock)
    try:
        tracker.store.append_positions("s", [NewEvent("test.appended", {"n": i}, APRIL)
                                             for i in range(COPY_MIN_ROWS)])
        stored = list(tracker.store.read(upcast=False))
        for rows in (stored, stored[:1]):
            with pytest.raises(sa.exc.IntegrityError), \
                    write_connection(tracker.engine) as conn, conn.begin():
                tracker.store.insert_verbatim(conn, rows)
        assert tracker.store.head() == COPY_MIN_ROWS
    finally:
        tracker.close()


def test_events_read_back_equal_the_appended_ones_and_stay_immutable(db_url, clock):
    tracker = open_tracker(db_url, clock)
    try:
        [appended] = tracker.store.append("s", [NewEvent(
            "test.appended", {"n": 1}, APRIL, "day", {"source": {"id": "x"}, "actor": "me"})])
        [read] = tracker.store.read()
        assert read == appended
        assert not read != appended  # noqa: SIM202 - __ne__ too
        assert read.meta == {"source": {"id": "x"}, "actor": "me"}
        assert read.citation == {"id": "x"}
        assert read.as_dict() == appended.as_dict()
        assert pickle.loads(pickle.dumps(read)) == read
        assert repr(read).startswith("RecordedEvent(position=1, event_id=")
        built = RecordedEvent(**{k: v for k, v in appended.as_dict().items()
                                 if k not in ("occurred_at", "recorded_at")},
                              occurred_at=appended.occurred_at,
                              recorded_at=appended.recorded_at)
        assert built == read
        for name in ("position", "meta", "data"):
            with pytest.raises(FrozenInstanceError):
                setattr(read, name, None)
        with pytest.raises(FrozenInstanceError):
            del read.hash
        with pytest.raises(TypeError):
            hash(read)  # data and meta are dicts, as with the frozen dataclass
    finally:
        tracker.close()


class _Locked(Exception):
    pass


def test_append_retries_transient_errors_as_retrying_does(sqlite_url, clock, monkeypatch):
    tracker = open_tracker(sqlite_url, clock)
    calls = 0

    def locked(*_args, **_kwargs):
        nonlocal calls
        calls += 1
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, _Locked("database is locked"))

    def dropped(*_args, **_kwargs):
        nonlocal calls
        calls += 1
        raise sa.exc.OperationalError("SELECT", None, _Locked("server closed the connection"))

    try:
        monkeypatch.setattr("time.sleep", lambda _s: None)
        for fn, attempts in ((locked, RETRY_ATTEMPTS), (dropped, 2)):
            monkeypatch.setattr(tracker.store, "_append_own", fn)
            for method in (tracker.store.append, tracker.store.append_positions):
                calls = 0
                with pytest.raises(sa.exc.OperationalError):
                    method("s", [NewEvent("test.appended", {"n": 1}, APRIL)])
                assert calls == attempts

        def once_then_fine(*_args, **_kwargs):
            nonlocal calls
            calls += 1
            if calls == 1:
                raise sa.exc.OperationalError("BEGIN", None, _Locked("database is locked"))
            return [], [(7,)], []

        calls = 0
        monkeypatch.setattr(tracker.store, "_append_own", once_then_fine)
        assert tracker.store.append_positions("s", [NewEvent("test.appended", {}, APRIL)]) == [7]
        assert calls == 2
    finally:
        tracker.close()


def test_a_failed_append_leaves_nothing_and_the_connection_usable(db_url, clock):
    tracker = open_tracker(db_url, clock)
    try:
        with pytest.raises(Exception, match="lacks required"):
            tracker.store.append_positions("s", [
                NewEvent("test.appended", {"n": 1}, APRIL),
                NewEvent("policy.tracked", {}, APRIL)])
        assert tracker.store.head() == 0
        for _ in range(8):  # more than the pool holds: every connection went back clean
            assert len(tracker.store.append_positions("s", [
                NewEvent("test.appended", {"n": 2}, APRIL)])) == 1
        assert tracker.store.head() == 8
        assert tracker.store.verify().ok
    finally:
        tracker.close()


def test_the_fast_timestamp_text_is_strftimes_for_every_year_and_zone() -> None:
    """``iso`` writes what the hash chain has always hashed (``strftime``'s form), including
    years before 1000 (which ``%Y`` does not pad), offsets and naive values."""
    import random
    from datetime import timezone

    from tracker.dates import iso

    rng = random.Random(3)
    for _ in range(20_000):
        naive = datetime(rng.choice([1, 9, 99, 999, 1000, 1900, 2025, 9998]),
                         rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                         rng.randint(0, 59), rng.randint(0, 59),
                         rng.choice([0, 1, 999_999, rng.randint(0, 999_999)]))
        shown = [naive, naive.replace(tzinfo=UTC)]
        if 2 <= naive.year <= 9997:
            offset = timedelta(minutes=rng.randint(-12 * 60, 14 * 60))
            shown.append(naive.replace(tzinfo=timezone(offset)))
        for value in shown:
            as_utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            assert iso(value) == as_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), value


def test_a_single_events_state_query_keeps_an_index_plan_as_the_log_grows(pg_url) -> None:
    """Single-event appends let PostgreSQL keep a generic plan for their state query (planning
    it afresh was most of its cost), with sequential scans off: a plan made on a nearly empty
    log must still be the index lookups once the log has grown."""
    tracker = open_tracker(pg_url)
    try:
        for n in range(12):  # psycopg prepares after 5 runs; PostgreSQL goes generic after 5
            tracker.store.append_positions("early", [NewEvent("test.appended", {"n": n},
                                                              datetime(2025, 1, 1, tzinfo=UTC))])
        tracker.store.append_positions("bulk", [
            NewEvent("test.appended", {"n": n}, datetime(2025, 1, 1, tzinfo=UTC))
            for n in range(20_000)])
        tracker.store.append_positions("late", [NewEvent("test.appended", {"n": 0},
                                                         datetime(2025, 1, 1, tzinfo=UTC))])
        pooled = tracker.engine.raw_connection()
        try:
            cursor = pooled.cursor()
            cursor.execute("SELECT name, generic_plans FROM pg_prepared_statements "
                           "WHERE statement LIKE '%array_agg(event_id) FROM events WHERE "
                           "event_id = $2%'")
            [(name, generic_plans)] = cursor.fetchall()
            assert generic_plans > 0
            cursor.execute(append_module.LOCK_PG_PLANNED)
            cursor.execute(f"EXPLAIN EXECUTE {name}('late', 'no-such-id')")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan and "Index" in plan, plan
            pooled.rollback()
        finally:
            pooled.close()
    finally:
        tracker.close()
