"""Who is who: one document per actor, with the part each plays in each policy.

``evolve`` is not told which key it is folding into, so only ``actor.identified`` (which touches
one document, its own) sets an actor's identity. Every other event that names several actors
(a milestone's participants, a commentary and the paper that carried it) stores the same
actor-neutral link in each of their documents; the role is worded once the actor's id is known.
A document first reached through such a link has ``actor_id`` null until the actor is
identified; callers take the id from the document key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.catalogue import (
    ACTOR_IDENTIFIED,
    AGREEMENT_SIGNED,
    COMMENTARY_RECORDED,
    MILESTONE_RECORDED,
    OUTCOME_EXPECTED,
    POLICY_PARTY_ADDED,
    RETRACTED,
)
from tracker.dates import iso
from tracker.events import RecordedEvent
from tracker.projections.base import Doc, Projection
from tracker.projections.shared import (
    History,
    assertion,
    current,
    item,
    retracted_position,
    without_position,
)

_LINK_TYPES = frozenset({POLICY_PARTY_ADDED, MILESTONE_RECORDED, COMMENTARY_RECORDED,
                         AGREEMENT_SIGNED, OUTCOME_EXPECTED})


def _ids(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return out


def linked_actors(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """The actor ids an event names, in the order it names them."""
    if event_type == ACTOR_IDENTIFIED:
        return _ids([data.get("actor_id")])
    if event_type == POLICY_PARTY_ADDED:
        return _ids([data.get("actor_id")])
    if event_type == MILESTONE_RECORDED:
        return _ids([data.get("led_by"), *(data.get("actor_ids") or ())])
    if event_type == COMMENTARY_RECORDED:
        return _ids([data.get("actor_id"), data.get("via")])
    if event_type in (AGREEMENT_SIGNED, OUTCOME_EXPECTED):
        return _ids(data.get("actor_ids") or ())
    return []


def role_of(actor_id: str | None, link: Mapping[str, Any]) -> str:
    """Word a link as ``actor_id``'s role (or neutrally when the actor is not yet known)."""
    kind = link.get("link")
    if kind == "party":
        return str(link.get("role") or "party")
    if kind == "milestone":
        what = f"{link.get('kind') or 'milestone'}: {link.get('title')}"
        if actor_id is not None and link.get("led_by") == actor_id:
            return f"led {what}"
        return f"took part in {what}"
    if kind == "commentary":
        if actor_id is not None and link.get("via") == actor_id \
                and link.get("actor_id") != actor_id:
            return f"carried commentary by {link.get('actor_id')}"
        return f"commentator ({link.get('stance')})"
    if kind == "agreement":
        return f"signatory: {link.get('title')}"
    if kind == "outcome":
        return f"expects: {link.get('text')}"
    return str(kind)


def _link(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    base = {"policy_id": data.get("policy_id")}
    if event_type == POLICY_PARTY_ADDED:
        return base | {"link": "party", "role": data.get("role")}
    if event_type == MILESTONE_RECORDED:
        return base | {"link": "milestone", "ref": data.get("milestone_id"),
                       "kind": data.get("kind"), "title": data.get("title"),
                       "led_by": data.get("led_by")}
    if event_type == COMMENTARY_RECORDED:
        return base | {"link": "commentary", "ref": data.get("commentary_id"),
                       "actor_id": data.get("actor_id"), "via": data.get("via"),
                       "stance": data.get("stance"), "summary": data.get("summary")}
    if event_type == AGREEMENT_SIGNED:
        return base | {"link": "agreement", "ref": data.get("agreement_id"),
                       "title": data.get("title")}
    return base | {"link": "outcome", "ref": data.get("outcome_id"), "text": data.get("text")}


def build(history: History, event: RecordedEvent) -> Doc:
    identity = history.get("identity", [None])[-1]
    who: Mapping[str, Any] = identity["value"] if identity else {}
    actor_id = who.get("actor_id")
    roles = []
    for _slot, entry in current(history, "link:"):
        link = item(entry)
        link["role"] = role_of(actor_id, entry["value"])
        roles.append(link)
    return {
        "actor_id": actor_id,
        "name": who.get("name"),
        "kind": who.get("kind"),
        "description": who.get("description"),
        "affiliation": who.get("affiliation"),
        "aliases": list(who.get("aliases") or []),
        "members": list(who.get("members") or []),
        "sources": identity["sources"] if identity else [],
        "roles": roles,
        "policies": _ids(r.get("policy_id") for r in roles),
        "position": event.position,
        "updated_at": iso(event.recorded_at),
        "history": history,
    }


class Actors(Projection):
    """One document per person or organisation named in the record."""

    name = "actors"
    version = 1
    types: frozenset[str] = frozenset({ACTOR_IDENTIFIED} | _LINK_TYPES)

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        if event.type not in self.types:
            return []
        return linked_actors(event.type, event.data)

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        if event.type == RETRACTED:
            target = retracted_position(event)
            if doc is None or target is None:
                return doc
            remaining = without_position(doc["history"], target)
            return build(remaining, event) if remaining else None
        if event.type not in self.types:
            return doc
        data = event.data
        history: History = dict(doc["history"]) if doc else {}  # lists replaced, not edited
        if event.type == ACTOR_IDENTIFIED:
            history["identity"] = [*history.get("identity", ()), assertion(event, {
                k: data.get(k) for k in ("actor_id", "name", "kind", "description",
                                         "affiliation", "aliases", "members")})]
        else:
            history[f"link:{event.position:012d}"] = [assertion(event, _link(event.type, data))]
        return build(history, event)

    def sort_key(self, key: str, doc: Doc) -> str:
        return f"{doc.get('kind') or '~'}\x1f{(doc.get('name') or key).lower()}\x1f{key}"
