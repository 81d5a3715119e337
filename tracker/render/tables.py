"""Every kind as one flat table: a header and one row per fact, story, claim, feed or event.

CSV writes these tables as they are (:mod:`tracker.render.csv_format`); the Markdown of a
list is the same table (:mod:`tracker.render.markdown`). Cells are plain values (text,
numbers, booleans, None, lists); each format writes them its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracker.dates import iso
from tracker.render import claims, lists, words
from tracker.render.facts import describe, label, milestone_line

if TYPE_CHECKING:
    from tracker.catalogue import EventType
    from tracker.events import RecordedEvent
    from tracker.render.kinds import Kind

Table = tuple[list[str], list[list[Any]]]


def _positions(sources: Iterable[Mapping[str, Any]] | None) -> list[int]:
    return [int(s["position"]) for s in sources or ()]


def _citations(sources: Iterable[Mapping[str, Any]] | None) -> list[str]:
    out: list[str] = []
    for s in sources or ():
        c = s.get("citation") or {}
        cid = str(c.get("id") or c.get("story_id") or c.get("url") or "")
        if cid and cid not in out:
            out.append(cid)
    return out


_STATUS_COLUMNS = ["policy_id", "section", "key", "label", "value", "occurred_at", "precision",
                   "positions", "sources"]


def status(report: Mapping[str, Any]) -> Table:
    """One row per fact of each policy: its status, dates, parties, facts, questions,
    commentary, expected outcomes, milestones and follow-up stories."""
    rows: list[list[Any]] = []
    for p in report.get("policies") or ():
        pid = p["id"]

        def add(section: str, key: Any, label_: Any, value: Any, sources: Any,
                entry: Mapping[str, Any] | None = None, pid: str = pid) -> None:
            entry = entry or {}
            rows.append([pid, section, key, label_, value, entry.get("occurred_at"),
                         entry.get("precision"), _positions(sources), _citations(sources)])

        add("status", "status", "status", p.get("status"), p.get("status_sources"),
            p.get("status_dating") or {})
        for name, d in (p.get("dates") or {}).items():
            add("date", name, name, d["value"], d["sources"], {"precision": d.get("precision")})
        for party in p.get("party_details") or ():
            add("party", party.get("actor_id"), party["name"], party.get("role"),
                party["sources"])
        for f in p.get("facts") or ():
            value = claims.settled_value(f) if "as_of" in f else describe(f["key"], f["value"])
            add("fact", f["key"], label(f["key"]), value, f["sources"], f)
        for q in p.get("open_questions") or ():
            add("open_question", q.get("id"), "question", q["text"], q["sources"], q)
        for q in p.get("resolved_questions") or ():
            add("answered_question", q.get("id"), q["text"], q.get("answer"), q["sources"])
        for c in p.get("commentary") or ():
            add("commentary", c.get("id"), c["actor"], f"{c.get('stance')}: {c.get('summary')}",
                c["sources"], c)
        for o in p.get("outcomes") or ():
            add("expected_outcome", o.get("id"), ", ".join(o.get("expected_by") or ()),
                o["text"], o["sources"], o)
        for m in p.get("milestones") or ():
            add("milestone", m.get("id"), m.get("kind"), milestone_line(m), m["sources"], m)
        for s in (p.get("follow_ups") or {}).get("stories") or ():
            add("follow_up", s.get("story_id"), s.get("published"), s.get("title"),
                [{"position": s["position"], "citation": {"story_id": s.get("story_id")}}])
    return _STATUS_COLUMNS, rows


def timeline(report: Mapping[str, Any]) -> Table:
    columns = ["position", "occurred_at", "precision", "type", "summary", "estimated", "source"]
    rows = [[e["position"], e.get("occurred_at"), e.get("precision"), e.get("type"),
             e.get("summary"), bool(e.get("estimated")),
             _citations([{"citation": e.get("source") or {}}])]
            for e in report.get("entries") or ()]
    return columns, rows


def diff(report: Mapping[str, Any]) -> Table:
    columns = ["policy_id", "change", "key", "label", "before", "after", "positions"]
    rows: list[list[Any]] = []
    for p in report.get("policies") or ():
        pid = p["id"]
        if p.get("status"):
            s = p["status"]
            rows.append([pid, "changed", "status", "status", s.get("before"), s.get("after"),
                         _positions(s.get("sources"))])
        for f in p.get("added") or ():
            rows.append([pid, "added", f["key"], label(f["key"]), None,
                         describe(f["key"], f["value"]), _positions(f["sources"])])
        for f in p.get("changed") or ():
            rows.append([pid, "changed", f["key"], label(f["key"]),
                         describe(f["key"], f["before"]), describe(f["key"], f["after"]),
                         _positions(f["sources"])])
        for f in p.get("retracted") or ():
            rows.append([pid, "withdrawn", f["key"], label(f["key"]),
                         describe(f["key"], f["value"]), None, _positions(f["sources"])])
        for q in p.get("questions_opened") or ():
            rows.append([pid, "question_opened", q.get("id"), "question", None, q["text"],
                         _positions(q["sources"])])
        for q in p.get("questions_closed") or ():
            rows.append([pid, "question_closed", q.get("id"), "question", q["text"], None,
                         _positions(q["sources"])])
    return columns, rows


def news(report: Mapping[str, Any]) -> Table:
    columns = ["id", "short_id", "published", "published_source", "title", "url", "score",
               "policies", "matched", "feeds", "links", "facts", "position"]
    rows = [[s["id"], s.get("short_id"), s.get("published"), s.get("published_source"),
             s.get("title"), s.get("url"), s.get("score"), s.get("policies") or [],
             s.get("matched") or [], [src.get("feed") for src in s.get("sources") or ()],
             [src.get("link") for src in s.get("sources") or () if src.get("link")],
             [f"{words.words(f['kind'])}: {words.fact(f['kind'], f['value'])}"
              for f in s.get("facts") or ()], s.get("position")]
            for s in report.get("stories") or ()]
    return columns, rows


def explain(report: Mapping[str, Any]) -> Table:
    columns = ["story_id", "item_key", "feed", "published", "title", "link", "joined",
               "joined_position", "relevant_to"]
    rows = [[report["id"], i["item_key"], i.get("feed"), i.get("published"), i.get("title"),
             i.get("link"), i["joined"]["reason"], i["joined"]["position"],
             sorted({str(d.get("policy_id")) for d in i.get("relevance") or ()
                     if d.get("relevant")})]
            for i in report.get("items") or ()]
    return columns, rows


def claims_table(report: Mapping[str, Any]) -> Table:
    columns = ["id", "short_id", "policy_id", "slot", "value", "as_of", "state", "current",
               "hedged", "publishers", "tiers", "positions", "decided_by"]
    short = claims.short_ids(report)
    rows = []
    for c in report.get("claims") or ():
        sources = c.get("sources") or []
        decided = c.get("decided_by") or {}
        by = ("analyst" if decided.get("by") == "analyst"
              else f"rule {decided.get('rule')} {decided.get('version') or ''}".strip())
        rows.append([c["id"], short[str(c["id"])], c.get("policy_id"), c.get("slot"),
                     claims.value_text(c.get("value")), c.get("as_of"), c.get("state"),
                     c.get("current"), c.get("hedged"),
                     [s.get("publisher") for s in sources], [s.get("tier") for s in sources],
                     _positions(sources), by])
    return columns, rows


def sources(report: Mapping[str, Any]) -> Table:
    columns = ["publisher", "tier", "tier_set_by", "tier_given", "feeds", "positions", "note"]
    rows = [[r["publisher"], r["tier"], r["tier_set_by"], r.get("tier_given"), r["feeds"],
             _positions(r.get("sources")), r.get("note")] for r in report["publishers"]]
    return columns, rows


def feeds(subscriptions: Iterable[lists.Subscription]) -> Table:
    columns = ["name", "url", "every", "every_seconds", "tags"]
    rows = [[s["name"], s["url"], lists.interval(s["every_seconds"]), s["every_seconds"],
             s["tags"]] for s in lists.feed_records(subscriptions)]
    return columns, rows


def feed_health(health: Iterable[lists.Recordable]) -> Table:
    recs = lists.records(health)
    columns = ["name", "url", "every_seconds", "tags", "last_success", "last_error",
               "last_error_at", "consecutive_failures", "next_attempt", "items_recorded"]
    return columns, [[r.get(c) for c in columns] for r in recs]


def log(events: Iterable[RecordedEvent]) -> Table:
    columns = ["position", "recorded_at", "occurred_at", "occurred_precision", "type",
               "stream_id", "stream_version", "event_id", "data", "meta", "hash"]
    rows = [[e.position, iso(e.recorded_at), iso(e.occurred_at), e.occurred_precision, e.type,
             e.stream_id, e.stream_version, e.event_id, dict(e.data), dict(e.meta), e.hash]
            for e in events]
    return columns, rows


def catalogue(event_types: Iterable[EventType]) -> Table:
    columns = ["type", "version", "summary", "field", "required", "meaning"]
    rows = [[et.name, et.version, et.summary, name, name in et.required, meaning]
            for et in event_types for name, meaning in et.fields.items()]
    return columns, rows


def rules(report: Mapping[str, Any]) -> Table:
    columns = ["policy_id", "version", "source", "recorded", "position", "tier", "terms",
               "threshold", "vetoes"]
    rows = [[report["policy_id"], report["version"], report["source"], report["recorded"],
             report.get("position"), name, t["terms"], t["threshold"], t["vetoes"]]
            for name, t in report["tiers"].items()]
    return columns, rows


def _record(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], Table]:
    """One report as a table of one row."""

    def one(report: Mapping[str, Any]) -> Table:
        return list(columns), [[report.get(c) for c in columns]]

    return one


def _records(columns: Sequence[str]) -> Callable[[Iterable[Mapping[str, Any]]], Table]:
    """A list of records as a table, a row each."""

    def many(recs: Iterable[Mapping[str, Any]]) -> Table:
        return list(columns), [[r.get(c) for c in columns] for r in recs]

    return many


def ingest(report: Mapping[str, Any]) -> Table:
    columns = ["name", "status", "items", "stories", "corroborations", "revisions", "facts",
               "message", "lease_owner", "lease_expires_at"]
    return _records(columns)(report.get("feeds") or ())


def verify(report: Mapping[str, Any]) -> Table:
    against = report.get("against") or {}
    columns = ["ok", "checked", "first_bad_position", "reason", "against_position",
               "against_hash"]
    return columns, [[report["ok"], report["checked"], report.get("first_bad_position"),
                      report.get("reason"), against.get("position"), against.get("hash")]]


TABLES: dict[Kind, Callable[[Any], Table]] = {
    "status": status, "timeline": timeline, "diff": diff, "news": news, "explain": explain,
    "claims": claims_table, "sources": sources, "feeds": feeds, "feed_health": feed_health,
    "log": log, "catalogue": catalogue, "rules": rules, "ingest": ingest, "verify": verify,
    "head": _record(["position", "hash", "recorded_at"]),
    "db": _record(["database", "revision", "newest", "up_to_date"]),
    "alerts": _records(["name", "kind", "target", "on", "policy_id", "since", "delivered",
                        "pending", "last_delivered_at", "last_failure", "last_failure_at"]),
}
