"""Reviewing claims: list them by state, and let an analyst accept or reject one.

An analyst's decision is an event naming the claim, so ``--as-of`` replays decisions too; a
claim is decided by an analyst once (a correction is a retraction of that decision).
"""

from __future__ import annotations

from typing import Any

from tracker.app import Tracker
from tracker.catalogue import CLAIM_ACCEPTED, CLAIM_REJECTED
from tracker.claim_state import claim_rows
from tracker.claims import STATES
from tracker.db import write_connection
from tracker.dossier import state_docs
from tracker.errors import AlreadyError, UsageError
from tracker.events import NewEvent, RecordedEvent, deterministic_id
from tracker.lookup import unique_id
from tracker.when import When


def list_claims(tracker: Tracker, *, state: str = "pending", policy: str | None = None,
                as_of: When | None = None) -> dict[str, Any]:
    """The claims in ``state`` ("all" for every one), each with its sources and what decided
    it, now or as the log knew them at ``as_of``."""
    if state != "all" and state not in STATES:
        raise UsageError(f"unknown claim state {state!r}: one of {', '.join(STATES)}, all")
    docs = state_docs(tracker, as_of=as_of)
    settled = [s for pid, s in docs.settled().items() if policy is None or pid == policy]
    if policy is not None and not settled:
        raise UsageError(f"no policy {policy!r} is tracked")
    rows = claim_rows(settled, state)
    return {"state": state, "policy_id": policy, "count": len(rows), "claims": rows}


def _find(tracker: Tracker, claim_id: str) -> dict[str, Any]:
    rows = {row["id"]: row for row in claim_rows(state_docs(tracker).settled().values())}
    return rows[unique_id(rows, claim_id, kind="claim", listed_by="tracker claims --state all")]


def record_decision(tracker: Tracker, claim_id: str, verdict: str, text: str | None,
                    actor: str = "analyst") -> tuple[dict[str, Any], RecordedEvent]:
    """Record an analyst's ``verdict`` ("accepted" or "rejected") on a claim; returns the claim
    as it stood and the decision event."""
    if verdict == "rejected" and not (text or "").strip():
        raise UsageError("a rejection needs a --reason")
    claim = _find(tracker, claim_id)
    decided_by = claim["decided_by"]
    if decided_by.get("by") == "analyst":
        raise AlreadyError(f"claim {claim['id'][:8]} was already {claim['state']} by an "
                           f"analyst (position {decided_by.get('position')})")
    if verdict == "accepted" and claim["state"] == "accepted":
        raise AlreadyError(f"claim {claim['id'][:8]} is already accepted "
                           f"(rule {decided_by.get('rule')} {decided_by.get('version')})")
    data: dict[str, Any] = {"policy_id": claim["policy_id"], "claim_id": claim["id"]}
    if verdict == "accepted":
        event_type = CLAIM_ACCEPTED
        if text and text.strip():
            data["note"] = text.strip()
    else:
        event_type = CLAIM_REJECTED
        data["reason"] = (text or "").strip()
    event = NewEvent(event_type, data, tracker.now(), meta={"actor": actor},
                     event_id=deterministic_id("claim-decision", claim["id"]))
    with write_connection(tracker.engine) as conn, conn.begin():
        tracker.store.lock(conn)
        if tracker.store.by_ids([event.event_id], conn=conn):
            raise AlreadyError(f"claim {claim['id'][:8]} was already decided by an analyst")
        [recorded] = tracker.store.append_in(conn, f"claims:{claim['policy_id']}", [event])
    return claim, recorded
