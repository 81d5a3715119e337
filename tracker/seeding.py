"""Seed files: the dossiers (JSON files of hand-checked events that start a policy's record) and
the default feed subscriptions (``seeds/feeds.json``).

Loading is pure (file in, events out) and strict: a seed that does not match the catalogue is
refused with one line naming the file and the entry, before anything reaches the log. Event ids
are deterministic, so loading the same seed twice appends nothing new.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from tracker.catalogue import (
    ACCEPTANCE_POLICY_SET,
    CATALOGUE,
    COMMENTARY_RECORDED,
    FEED_SUBSCRIBED,
    POLICY_STATUS_CHANGED,
    POLICY_TRACKED,
    STANCES,
    STATUSES,
    missing_fields,
)
from tracker.claims import DEFAULT_TIER, TIERS, AcceptancePolicy, is_tier, parse_policy
from tracker.dates import PRECISIONS, UNDATED, UNDATED_AT, parse_date
from tracker.errors import UsageError
from tracker.events import NewEvent, deterministic_id
from tracker.ingest.subscriptions import (
    check_name,
    check_publisher,
    check_tier,
    check_url,
    parse_interval,
)
from tracker.limits import JsonTooDeep, load_json
from tracker.resources import seeds_dir
from tracker.zones import zone_named

SEED_ACTOR = "seed"
#: Files in the seeds package that are not dossiers.
NOT_DOSSIERS = frozenset({"feeds.json"})

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_CHOICES = re.compile(r"^[a-z_]+(?: \| [a-z_]+)+$")
_SOURCE_FIELDS = ("id", "publication", "headline", "date", "document")
#: Optional source fields copied into each citing event's meta.source (the publishers fold).
_SOURCE_RATING = ("publisher", "tier")
#: Optional source fields copied likewise, so output can say how the source's date is known.
_SOURCE_DATING = ("date_precision", "date_note")
#: Optional true/false entry fields, copied into meta when they say something:
#: ``occurred_estimated`` (the source gives no date: the date is the analyst's estimate) and
#: ``stated`` (false: the seed infers it, the source does not say it).
_ENTRY_FLAGS = ("occurred_estimated", "stated")

SeedPath = str | os.PathLike[str] | Traversable


class SeedError(ValueError):
    """A seed file that cannot be loaded; the message is one line naming file and entry."""


def stream_for(dossier_id: str) -> str:
    return f"dossier:{dossier_id}"


def parse_occurred(text: str, precision: str | None = None) -> tuple[datetime, str]:
    """Read an ISO year, month, day or timestamp, with the precision its form implies.

    A stated precision must agree with the form, so "2025" cannot pass for a day.
    """
    try:
        start, implied = parse_date(text)
    except ValueError:
        raise ValueError(f"invalid date {text!r}") from None
    if precision is not None and precision != implied:
        article = "an" if implied == "instant" else "a"
        raise ValueError(f"occurred_at {text!r} is {article} {implied}, "
                         f"but occurred_precision is {precision!r}")
    return start, implied


def _choices(event_type: str, field: str) -> tuple[str, ...] | None:
    """Closed vocabularies written in the catalogue as ``a | b | c``."""
    meaning = CATALOGUE[event_type].fields.get(field, "")
    return tuple(meaning.split(" | ")) if _CHOICES.match(meaning) else None


def _check_data(event_type: str, data: Mapping[str, Any]) -> str | None:
    missing = missing_fields(event_type, data)
    if missing:
        return "missing " + ", ".join(missing)
    unknown = sorted(set(data) - set(CATALOGUE[event_type].fields))
    if unknown:
        return "fields not in the catalogue: " + ", ".join(unknown)
    if event_type == POLICY_STATUS_CHANGED and data["status"] not in STATUSES:
        return f"status {data['status']!r} is not one of {', '.join(STATUSES)}"
    if event_type == COMMENTARY_RECORDED and data["stance"] not in STANCES:
        return f"stance {data['stance']!r} is not one of {', '.join(STANCES)}"
    if event_type == POLICY_TRACKED and "timezone" in data:
        try:
            zone_named(str(data["timezone"]), "timezone")
        except UsageError as exc:
            return str(exc).split(":")[0]
    for field, value in data.items():
        choices = _choices(event_type, field)
        if choices is not None and value not in choices:
            return f"{field} {value!r} is not one of {', '.join(choices)}"
    return None


def _sources(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    sources = doc.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ValueError("'sources' must be a non-empty list")
    by_id: dict[str, Mapping[str, Any]] = {}
    for i, source in enumerate(sources):
        if not isinstance(source, Mapping):
            raise ValueError(f"sources[{i}] is not an object")
        absent = [f for f in _SOURCE_FIELDS if not source.get(f)]
        if absent:
            raise ValueError(f"sources[{i}] lacks {', '.join(absent)}")
        if source["id"] in by_id:
            raise ValueError(f"sources[{i}] repeats id {source['id']!r}")
        if source.get("tier") is not None and not is_tier(source["tier"]):
            raise ValueError(f"sources[{i}] tier {source['tier']!r} is not one of "
                             f"{', '.join(TIERS)}")
        by_id[source["id"]] = source
    return by_id


def _event(dossier_id: str, entry: Any, sources: Mapping[str, Mapping[str, Any]],
           seen: set[str]) -> NewEvent:
    if not isinstance(entry, Mapping):
        raise ValueError("not an object")
    key = entry.get("key")
    if not isinstance(key, str) or not _SLUG.match(key):
        raise ValueError("'key' must be a lowercase slug")
    if key in seen:
        raise ValueError(f"key {key!r} is used twice")
    seen.add(key)
    event_type = entry.get("type")
    if not isinstance(event_type, str) or event_type not in CATALOGUE:
        raise ValueError(f"unknown event type {event_type!r}")
    version = entry.get("schema_version", CATALOGUE[event_type].version)
    if not isinstance(version, int) or not 1 <= version <= CATALOGUE[event_type].version:
        raise ValueError(f"schema_version {version!r} is not 1..{CATALOGUE[event_type].version}")
    data = entry.get("data")
    if not isinstance(data, Mapping):
        raise ValueError("'data' must be an object")
    problem = _check_data(event_type, data)
    if problem:
        raise ValueError(problem)
    occurred = entry.get("occurred_at")
    precision = entry.get("occurred_precision")
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"occurred_precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == UNDATED:  # background the source gives no date for
        if occurred is not None:
            raise ValueError("an undated entry has no occurred_at (leave it out or null)")
        occurred_at = UNDATED_AT
    elif not isinstance(occurred, str):
        raise ValueError("'occurred_at' must be an ISO date string")
    else:
        occurred_at, precision = parse_occurred(occurred, precision)
    flags = {name: entry[name] for name in _ENTRY_FLAGS if name in entry}
    wrong = [name for name, value in flags.items() if not isinstance(value, bool)]
    if wrong:
        raise ValueError(f"'{wrong[0]}' must be true or false")
    cited = entry.get("source")
    if not isinstance(cited, Mapping) or cited.get("id") not in sources:
        raise ValueError("'source' must name a listed source id")
    source = sources[cited["id"]]
    paragraph = cited.get("paragraph")
    limit = source.get("paragraphs")
    if (not isinstance(paragraph, int) or isinstance(paragraph, bool) or paragraph < 1
            or (isinstance(limit, int) and paragraph > limit)):
        raise ValueError(f"source paragraph {paragraph!r} is out of range")
    meta: dict[str, Any] = {
        "source": {"id": source["id"], "publication": source["publication"],
                   "headline": source["headline"], "date": source["date"],
                   "paragraph": paragraph, "document": source["document"]},
        "actor": SEED_ACTOR,
        "seed_key": key,
    }
    for rated in _SOURCE_RATING:
        if source.get(rated):
            meta["source"][rated] = source[rated]
    for dating in _SOURCE_DATING:
        if source.get(dating):
            meta["source"][dating] = source[dating]
    if entry.get("occurred_note"):
        meta["occurred_note"] = str(entry["occurred_note"])
    if flags.get("occurred_estimated"):
        meta["occurred_estimated"] = True
    if flags.get("stated") is False:
        meta["stated"] = False
    return NewEvent(type=event_type, data=dict(data), occurred_at=occurred_at,
                    occurred_precision=precision, meta=meta,
                    event_id=deterministic_id("seed", dossier_id, key), schema_version=version)


def _load_json(text: str, name: str) -> Any:
    """A seed's JSON, bounded in depth: a hostile file gets one line, not a RecursionError."""
    try:
        return load_json(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except JsonTooDeep as exc:
        raise SeedError(f"{name}: {exc}") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise SeedError(f"{name}: not valid JSON ({str(exc).split(':')[0]})") from None


def parse_seed(text: str, name: str) -> list[tuple[str, NewEvent]]:
    """Turn a seed file's text into ``(stream_id, event)`` pairs, in file order."""
    doc = _load_json(text, name)
    if not isinstance(doc, Mapping):
        raise SeedError(f"{name}: top level must be an object")
    dossier_id = doc.get("dossier_id")
    if not isinstance(dossier_id, str) or not _SLUG.match(dossier_id):
        raise SeedError(f"{name}: 'dossier_id' must be a lowercase slug")
    try:
        sources = _sources(doc)
    except ValueError as exc:
        raise SeedError(f"{name}: {exc}") from None
    entries = doc.get("events")
    if not isinstance(entries, Sequence) or isinstance(entries, str) or not entries:
        raise SeedError(f"{name}: 'events' must be a non-empty list")
    stream = stream_for(dossier_id)
    seen: set[str] = set()
    out: list[tuple[str, NewEvent]] = []
    for i, entry in enumerate(entries):
        try:
            out.append((stream, _event(dossier_id, entry, sources, seen)))
        except ValueError as exc:
            label = entry.get("key") if isinstance(entry, Mapping) else None
            where = f"events[{i}]" + (f" ({label})" if isinstance(label, str) else "")
            raise SeedError(f"{name}: {where}: {exc}") from None
    return out


def load_seed_file(path: SeedPath) -> list[tuple[str, NewEvent]]:
    """Read and validate one dossier file."""
    entry: Traversable = path if isinstance(path, Traversable) else Path(path)
    try:
        text = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"{entry.name}: cannot read ({exc.__class__.__name__})") from None
    return parse_seed(text, entry.name)


@dataclass(frozen=True, slots=True)
class DossierRules:
    """The relevance rules a dossier seed names: the file's text and where it was read."""

    policy_id: str
    text: str
    source: str


def dossier_rules(path: SeedPath) -> DossierRules | None:
    """The rules a dossier seed names in its top-level ``"rules"`` (a TOML file next to the
    seed), or None when it names none. ``source`` is ``<folder>/<file>``, the same whether
    the packaged seed or a copy of it on disk is loaded."""
    entry: Traversable = path if isinstance(path, Traversable) else Path(path)
    try:
        text = entry.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"{entry.name}: cannot read ({exc.__class__.__name__})") from None
    doc = _load_json(text, entry.name)
    ref = doc.get("rules") if isinstance(doc, Mapping) else None
    if ref is None:
        return None
    if not isinstance(ref, str) or not _SLUG.match(ref) or not ref.endswith(".toml"):
        raise SeedError(f"{entry.name}: 'rules' must name a .toml file next to the seed")
    packaged = seeds_dir()
    folder = entry.resolve().parent if isinstance(entry, Path) else None
    if folder is None or str(folder) == str(Path(str(packaged)).resolve()):
        rules_file, source = packaged / ref, f"seeds/{ref}"  # packaged beside the seed
    else:
        rules_file, source = folder / ref, f"{folder.name}/{ref}"
    try:
        text = rules_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(f"{entry.name}: rules {ref}: cannot read "
                        f"({exc.__class__.__name__})") from None
    return DossierRules(str(doc["dossier_id"]), text, source)


def packaged_dossier_ids() -> list[str]:
    """The ids of the dossiers shipped with tracker (a log that tracks none follows these)."""
    ids = []
    for file in packaged_seed_files():
        doc = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(doc, Mapping) and isinstance(doc.get("dossier_id"), str):
            ids.append(doc["dossier_id"])
    return ids


def packaged_seed_files() -> list[Traversable]:
    """Every dossier file shipped with tracker, sorted by name (feeds.json is not a dossier)."""
    directory = seeds_dir()
    if not directory.is_dir():
        return []
    return sorted((f for f in directory.iterdir()
                   if f.is_file() and f.name.endswith(".json") and f.name not in NOT_DOSSIERS),
                  key=lambda f: f.name)


def default_subscription_events() -> list[tuple[str, NewEvent]]:
    """The shipped subscription list (seeds/feeds.json) as deterministic events: loading it
    again adds nothing, and a default feed the user removed stays removed."""
    path = seeds_dir() / "feeds.json"
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(entries, dict):
        entries = entries.get("feeds", [])
    out: list[tuple[str, NewEvent]] = []
    epoch = datetime(2025, 5, 1)
    for entry in entries:
        name = check_name(str(entry["name"]))
        url = check_url(str(entry["url"]), allow_local=False)
        every = parse_interval(str(entry.get("every", "30m")))
        publisher = check_publisher(str(entry.get("publisher") or name))
        tier = check_tier(str(entry.get("tier") or DEFAULT_TIER))
        out.append((f"feed:{name}", NewEvent(
            FEED_SUBSCRIBED, {"name": name, "url": url, "every_seconds": every,
                              "tags": list(entry.get("tags", [])), "allow_local": False,
                              "publisher": publisher, "tier": tier},
            epoch, "day", meta={"actor": "seed", "source": {"id": "seeds/feeds.json"}},
            event_id=deterministic_id("seed-feed", name))))
    return out


ACCEPTANCE_FILE = "acceptance.toml"
ACCEPTANCE_STREAM = "policy:acceptance"


def packaged_acceptance_policy() -> AcceptancePolicy:
    """The acceptance policy this tracker ships (``seeds/acceptance.toml``)."""
    path = seeds_dir() / ACCEPTANCE_FILE
    return parse_policy(path.read_text(encoding="utf-8"), ACCEPTANCE_FILE)


def acceptance_policy_events(policy: AcceptancePolicy | None = None
                             ) -> list[tuple[str, NewEvent]]:
    """The policy as the event that puts it in force; its id follows its version, so seeding
    again adds nothing and a new version is recorded once."""
    policy = policy or packaged_acceptance_policy()
    return [(ACCEPTANCE_STREAM, NewEvent(
        ACCEPTANCE_POLICY_SET, policy.as_data(), datetime(2025, 5, 1), "day",
        meta={"actor": "seed", "source": {"id": f"seeds/{ACCEPTANCE_FILE}"}},
        event_id=deterministic_id("acceptance-policy", policy.version)))]
