"""What changed in the accepted state, event by event: the notifications alerts deliver. Pure.

The accepted state is settled when it is read (``tracker.claim_state``), so nothing in the log
says "this fact was accepted". A change is found by folding the log as ``status`` does and
settling each policy the event touched before and after it: the difference is attributed to
that event, whose id and position identify the change for good. The changes up to a position
are a function of the log up to it, so every run computes the same changes with the same ids,
and the outbox (``tracker.alerts.outbox``) only has to remember which were delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from tracker.catalogue import ACCEPTANCE_POLICY_SET, RETRACTED, STORY_CREATED, story_policies
from tracker.claim_state import Settled, merge_into_report, settle
from tracker.claims import AcceptancePolicy, policy_from_data, same_period
from tracker.dates import iso, read_instant, utc
from tracker.events import RecordedEvent, deterministic_id
from tracker.projections import policy_news
from tracker.projections.base import Doc
from tracker.projections.fold import apply
from tracker.projections.policy_news import CLAIM, DECISION
from tracker.projections.policy_state import PolicyState
from tracker.projections.publishers import Publishers
from tracker.projections.shared import History

STATUS_CHANGED: Final = "status.changed"
FACT_ACCEPTED: Final = "fact.accepted"
FACT_SUPERSEDED: Final = "fact.superseded"
FACT_WITHDRAWN: Final = "fact.withdrawn"
FACT_DISPUTED: Final = "fact.disputed"
CLAIM_PENDING: Final = "claim.pending"
STORY_NEW: Final = "story.new"

#: Every kind of change, in the order the docs list them.
KINDS: Final = (STATUS_CHANGED, FACT_ACCEPTED, FACT_SUPERSEDED, FACT_WITHDRAWN, FACT_DISPUTED,
                CLAIM_PENDING, STORY_NEW)
#: What each kind means, for ``--help`` and docs/alerts.md.
MEANINGS: Final = {
    STATUS_CHANGED: "the policy's lifecycle status changed (dossier or accepted claim)",
    FACT_ACCEPTED: "a slot got its first accepted value",
    FACT_SUPERSEDED: "an accepted value was replaced by another (a later world date)",
    FACT_WITHDRAWN: "a slot's accepted value was withdrawn (retracted, rejected) and none "
                    "took its place",
    FACT_DISPUTED: "a new conflict: a claim disputes the accepted value for the same date",
    CLAIM_PENDING: "a new claim waits for acceptance (an official source, corroboration or "
                   "an analyst)",
    STORY_NEW: "a new follow-up story scored at least the channel's --min-score",
}

_POLICY_STATE = PolicyState()
_PUBLISHERS = Publishers()
#: The event types changes are computed from.
TYPES: Final = frozenset(_POLICY_STATE.types | _PUBLISHERS.types
                         | {RETRACTED, ACCEPTANCE_POLICY_SET})


@dataclass(frozen=True, slots=True)
class Change:
    """One change of accepted state, attributed to the event that caused it."""

    change_id: str
    kind: str
    position: int
    event_id: str
    recorded_at: datetime
    policy_id: str
    policy_title: str | None
    slot: str | None
    before: Any
    after: Any
    world_date: str | None
    precision: str | None
    decided_by: Mapping[str, Any] | None
    sources: tuple[Mapping[str, Any], ...]
    claim_id: str | None = None
    score: float | None = None
    story: Mapping[str, Any] | None = None

    def as_data(self) -> dict[str, Any]:
        """The change as the webhook payload and ``--format json`` give it."""
        return {
            "id": self.change_id, "kind": self.kind, "position": self.position,
            "event_id": self.event_id, "recorded_at": iso(self.recorded_at),
            "policy": {"id": self.policy_id, "title": self.policy_title},
            "slot": self.slot, "before": self.before, "after": self.after,
            "world_date": self.world_date, "precision": self.precision,
            "decided_by": dict(self.decided_by) if self.decided_by is not None else None,
            "sources": [dict(s) for s in self.sources], "claim_id": self.claim_id,
            "score": self.score, "story": dict(self.story) if self.story else None,
        }


def source(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A source as a notification names it, from a claim row's source or a ``{position,
    citation}`` entry."""
    citation = entry.get("citation")
    cited: Mapping[str, Any] = citation if isinstance(citation, Mapping) else entry
    return {"position": entry.get("position"),
            "publisher": cited.get("publisher") or cited.get("publication"),
            "tier": cited.get("tier"), "link": cited.get("link") or cited.get("url")}


# -- one policy's accepted state, kept slot by slot -----------------------------------------------
#
# Claims on different slots never affect each other (``claims.adjudicate`` settles each slot on
# its own), so an event is settled only on the slots it touched: which those are is read off the
# policy history, whose folds replace the entries they change and keep the others.


@dataclass(slots=True)
class _Policy:
    """One policy's accepted state: each claim slot settled on its own, and the status."""

    title: str | None = None
    status: Any = None
    status_detail: Mapping[str, Any] = field(default_factory=dict)
    slots: dict[str, Settled] = field(default_factory=dict)
    dossier: dict[str, Any] = field(default_factory=dict)
    #: The history it was settled from (folds never change a history in place).
    history: History = field(default_factory=dict)


#: History keys that name the policy or give a slot's dossier value.
_DOSSIER_KEYS: Final = ("policy", "context:", "agreement:")


def _slot_of(history: History, key: str) -> str | None:
    """The claim slot a history key belongs to (a claim's, or a decision's claim's)."""
    if key.startswith(DECISION):
        key = CLAIM + key.removeprefix(DECISION)
    entries = history.get(key) if key.startswith(CLAIM) else None
    return str(entries[0]["value"]["slot"]) if entries else None


def _settle_slot(policy_id: str, history: History, slot: str, tiers: Mapping[str, str],
                 acceptance: AcceptancePolicy) -> Settled | None:
    claims_part: History = {}
    decisions_part: History = {}
    for key, entries in history.items():
        if key.startswith(CLAIM) and entries and entries[0]["value"]["slot"] == slot:
            claims_part[key] = entries
            decision = DECISION + key.removeprefix(CLAIM)
            if decision in history:
                decisions_part[decision] = history[decision]
    if not claims_part:
        return None
    settled = settle({"policy_id": policy_id, "claims": policy_news.claims(claims_part),
                      "claim_decisions": policy_news.decisions(decisions_part)},
                     tiers, acceptance)
    return settled if settled.slots else None


def _dossier_values(history: History) -> dict[str, Any]:
    """What the dossier itself says for the slots its measures and agreements fill."""
    out: dict[str, Any] = {}
    for key, entries in history.items():
        if not entries or not key.startswith(("context:", "agreement:")):
            continue
        value = entries[-1]["value"]
        if not isinstance(value, Mapping) or not value.get("slot"):
            continue
        out[str(value["slot"])] = value.get("value") if key.startswith("context:") else {
            "count": value.get("project_count"), "qualifier": value.get("count_qualifier")}
    return out


def _status(history: History, lifecycle: Settled | None, policy_id: str,
            tiers: Mapping[str, str]) -> tuple[Any, dict[str, Any]]:
    """The lifecycle status as ``status`` shows it (the dossier's, unless an accepted claim
    for a later period takes over), and what it rests on."""
    entries = history.get("status") or []
    latest = entries[-1] if entries else None
    dossier_status = latest["value"].get("status") if latest else None
    settled = lifecycle or Settled(policy_id, {}, {}, tiers)
    doc = {"policy_id": policy_id, "status": dossier_status, "status_history": [
        {"occurred_start": latest["occurred_start"], "precision": latest["precision"]}]
        if latest else []}
    status = merge_into_report({"status": dossier_status, "facts": []}, doc,
                               settled).get("status")
    current = settled.current("lifecycle")
    if current is not None and status == current["value"] != dossier_status:
        return status, _from_row(settled.row(str(current["claim_id"])), settled)
    if latest is None:
        return status, {}
    return status, {"world_date": latest["occurred_at"], "precision": latest["precision"],
                    "decided_by": {"by": "dossier", "position": latest["position"]},
                    "claim_id": None,
                    "sources": tuple(source(s) for s in latest.get("sources") or ())}


def _change(event: RecordedEvent, kind: str, policy_id: str, title: str | None,
            subject: str | None, **fields: Any) -> Change:
    return Change(change_id=deterministic_id("alert.change", event.event_id, kind, policy_id,
                                             subject or ""),
                  kind=kind, position=event.position, event_id=event.event_id,
                  recorded_at=event.recorded_at, policy_id=policy_id, policy_title=title,
                  **fields)


def _from_row(row: Mapping[str, Any], settled: Settled) -> dict[str, Any]:
    return {"world_date": row["as_of"], "precision": row["precision"],
            "decided_by": row["decided_by"], "claim_id": row["id"],
            "sources": _group_sources(settled, row)}


def _group_sources(settled: Settled, row: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Every source the claim's verdict rests on: its own and those of the claims decided
    with it (the same value for the same period, reported with and without a date)."""
    verdict = settled.verdicts[row["id"]]
    mine = settled.claims[row["id"]]
    found: dict[int, dict[str, Any]] = {}
    for claim_id in settled.slots.get(str(row["slot"]), ()):
        other = settled.claims[claim_id]
        if claim_id != row["id"] and (
                settled.verdicts[claim_id].decided_by != verdict.decided_by
                or other["value"] != row["value"]
                or not same_period(_start(other["as_of_start"]), other["precision"],
                                   _start(mine["as_of_start"]), mine["precision"])):
            continue
        for entry in settled.row(claim_id)["sources"]:
            found.setdefault(int(entry["position"]), source(entry))
    return tuple(found[p] for p in sorted(found))


def _start(text: str) -> datetime:
    return utc(read_instant(text))


def _state(settled: Settled | None, claim_id: str) -> str | None:
    verdict = settled.verdicts.get(claim_id) if settled is not None else None
    return verdict.state if verdict is not None else None


def _standing(policy: _Policy, slot: str) -> Any:
    """The value that stands for ``slot``: the accepted claim's, else the dossier's."""
    if slot == "lifecycle":
        return policy.status
    settled = policy.slots.get(slot)
    current = settled.current(slot) if settled is not None else None
    return current["value"] if current is not None else policy.dossier.get(slot)


def _slot_changes(event: RecordedEvent, policy_id: str, policy: _Policy, slot: str,
                  before: Settled | None, after: Settled | None) -> list[Change]:
    """The changes on one slot between its settlement before ``event`` and after it."""
    out: list[Change] = []
    title = policy.title
    if slot != "lifecycle":
        was = before.current(slot) if before is not None else None
        now = after.current(slot) if after is not None else None
        if now is not None and after is not None:
            row = after.row(str(now["claim_id"]))
            if was is None:
                out.append(_change(event, FACT_ACCEPTED, policy_id, title, slot, slot=slot,
                                   before=policy.dossier.get(slot), after=row["value"],
                                   **_from_row(row, after)))
            elif was["value"] != now["value"]:
                out.append(_change(event, FACT_SUPERSEDED, policy_id, title, slot, slot=slot,
                                   before=was["value"], after=row["value"],
                                   **_from_row(row, after)))
        elif was is not None:
            out.append(_change(event, FACT_WITHDRAWN, policy_id, title, slot, slot=slot,
                               before=was["value"], after=policy.dossier.get(slot),
                               world_date=None, precision=None,
                               decided_by={"by": "withdrawal", "position": event.position},
                               claim_id=str(was["claim_id"]), sources=()))
    if after is None:
        return out
    for claim_id in sorted(after.verdicts):
        state = after.verdicts[claim_id].state
        if state not in ("conflict", "pending") or state == _state(before, claim_id):
            continue
        row = after.row(claim_id)
        if state == "conflict":
            rival_id = row["decided_by"].get("disputes")
            rival = after.claims.get(str(rival_id)) if rival_id else None
            out.append(_change(event, FACT_DISPUTED, policy_id, title, claim_id, slot=slot,
                               before=rival["value"] if rival is not None
                               else _standing(policy, slot),
                               after=row["value"], **_from_row(row, after)))
        else:
            out.append(_change(event, CLAIM_PENDING, policy_id, title, claim_id, slot=slot,
                               before=_standing(policy, slot), after=row["value"],
                               **_from_row(row, after)))
    return out


def _story_changes(event: RecordedEvent, titles: Mapping[str, str | None],
                   publishers: Mapping[str, str], tiers: Mapping[str, str]) -> list[Change]:
    data = event.data
    feed = str(data.get("feed") or "")
    publisher = publishers.get(feed, feed or None)
    story = {"story_id": data.get("story_id"), "title": data.get("title"),
             "url": data.get("url"), "published": data.get("published")}
    score = data.get("score")
    return [_change(
        event, STORY_NEW, policy_id, titles.get(policy_id), str(data.get("story_id")),
        slot=None, before=None, after=data.get("title"), world_date=data.get("published"),
        precision="instant",
        decided_by={"by": "relevance", "score": score, "matched": data.get("matched")},
        sources=({"position": event.position, "publisher": publisher,
                  "tier": tiers.get(publisher or "", "unrated"), "link": data.get("url")},),
        score=float(score) if isinstance(score, int | float) else None, story=story)
        for policy_id in story_policies(data)]


class _Fold:
    """The log folded as ``status`` folds it: policy histories, publishers and their tiers,
    the acceptance policy in force; and, once started, each policy's accepted state."""

    def __init__(self, default_policy: AcceptancePolicy) -> None:
        self.docs: dict[str, Doc | None] = {}
        self.publisher_docs: dict[str, Doc | None] = {}
        self.seen: dict[int, RecordedEvent] = {}
        self.acceptance = default_policy
        self.tiers: dict[str, str] = {}
        self.policies: dict[str, _Policy] | None = None

    def history(self, policy_id: str) -> History:
        doc = self.docs.get(policy_id)
        return doc["history"] if doc is not None else {}

    def fold(self, event: RecordedEvent) -> tuple[dict[str, set[str]], bool]:
        """Fold ``event``; once started, returns the history keys it changed per policy, and
        whether every slot may have changed (a publisher's tier or the acceptance policy)."""
        if event.type != RETRACTED:
            self.seen[event.position] = event
        started = self.policies is not None
        before = {key: self.history(key) for key in self._keys(event)} if started else {}
        touched = apply(_POLICY_STATE, self.docs, event, lambda _key: None, self.seen.get)
        changed: dict[str, set[str]] = {}
        for key in touched if started else ():
            old, new = before.get(key, {}), self.history(key)
            changed[key] = {k for k in old.keys() | new.keys()
                            if old.get(k) is not new.get(k) and old.get(k) != new.get(k)}
        everything = False
        if apply(_PUBLISHERS, self.publisher_docs, event, lambda _key: None, self.seen.get):
            tiers = {name: str(doc["tier"]) for name, doc in self.publisher_docs.items()
                     if doc is not None and doc.get("tier")}
            everything, self.tiers = tiers != self.tiers, tiers
        if event.type == ACCEPTANCE_POLICY_SET:
            self.acceptance = policy_from_data(
                event.data, f"acceptance policy at position {event.position}")
            everything = True
        return changed, everything

    def _keys(self, event: RecordedEvent) -> list[str]:
        """The policies ``event`` may touch (as ``apply`` finds them), to keep their history
        from before it."""
        if event.type == RETRACTED:
            target = self.seen.get(int(event.data.get("target_position") or 0))
            if target is None or target.type not in _POLICY_STATE.types:
                return []
            return list(_POLICY_STATE.keys(target))
        return list(_POLICY_STATE.keys(event))

    def start(self) -> None:
        """Settle every policy as it stands: the state later events are compared with."""
        self.policies = {}
        for policy_id in list(self.docs):
            self.policies[policy_id] = self.settle(policy_id, None, None)[0]

    def settle(self, policy_id: str, old: _Policy | None, keys: set[str] | None
               ) -> tuple[_Policy, dict[str, tuple[Settled | None, Settled | None]]]:
        """``policy_id``'s state after its history ``keys`` changed (None: all of it), and
        each re-settled slot before and after."""
        history = self.history(policy_id)
        policy = _Policy(old.title, old.status, old.status_detail, dict(old.slots),
                         old.dossier, history) if old is not None else _Policy(history=history)
        if keys is None:
            slots = {s for k in history for s in [_slot_of(history, k)] if s is not None}
            slots |= set(policy.slots)
        else:
            slots = set()
            for key in keys:
                for found in (_slot_of(history, key),
                              _slot_of(old.history, key) if old is not None else None):
                    if found is not None:
                        slots.add(found)
        moved: dict[str, tuple[Settled | None, Settled | None]] = {}
        for slot in sorted(slots):
            was = policy.slots.get(slot)
            now = _settle_slot(policy_id, history, slot, self.tiers, self.acceptance)
            if now is None:
                policy.slots.pop(slot, None)
            else:
                policy.slots[slot] = now
            moved[slot] = (was, now)
        if keys is None or any(k.startswith(_DOSSIER_KEYS) for k in keys):
            tracked = history.get("policy") or []
            policy.title = tracked[-1]["value"].get("title") if tracked else None
            policy.dossier = _dossier_values(history)
        if keys is None or "lifecycle" in moved or "status" in keys:
            policy.status, policy.status_detail = _status(
                history, policy.slots.get("lifecycle"), policy_id, self.tiers)
        return policy, moved

    def feed_publishers(self) -> dict[str, str]:
        return {feed: name for name, doc in self.publisher_docs.items() if doc is not None
                for feed in doc.get("feeds") or ()}


def changes(events: Iterable[RecordedEvent], *, after: int,
            default_policy: AcceptancePolicy) -> list[Change]:
    """Every change of accepted state made by the events after position ``after``.

    ``events``: the log's events of ``TYPES`` in position order, from its start (the state
    at ``after`` is folded from them); ``default_policy``: the acceptance policy in force
    while the log records none (the packaged one). The result does not depend on ``after``
    beyond where it starts: a change keeps its id and content whatever run computes it.
    """
    fold = _Fold(default_policy)
    out: list[Change] = []
    for event in events:
        if fold.policies is None and event.position > after:
            fold.start()
        changed, everything = fold.fold(event)
        if fold.policies is None:
            continue
        policies = fold.policies
        touched: dict[str, set[str] | None] = dict(changed)
        if everything:
            touched = {key: None for key in fold.docs}
        for key in sorted(touched):
            if fold.docs.get(key) is None:
                policies.pop(key, None)
                continue
            old = policies.get(key)
            policy, moved = fold.settle(key, old, touched[key] if old is not None else None)
            policies[key] = policy
            old_status = old.status if old is not None else None
            if policy.status is not None and policy.status != old_status:
                out.append(_change(event, STATUS_CHANGED, key, policy.title, "lifecycle",
                                   slot="lifecycle", before=old_status, after=policy.status,
                                   **policy.status_detail))
            for slot, (was, now) in moved.items():
                out += _slot_changes(event, key, policy, slot, was, now)
        if event.type == STORY_CREATED:
            titles = {key: p.title for key, p in policies.items()}
            out += _story_changes(event, titles, fold.feed_publishers(), fold.tiers)
    return out
