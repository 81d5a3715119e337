"""What a projection is: a pure, keyed fold over events.

A projection's state is a set of JSON documents, one per key (a policy, an actor, a timeline
entry...). ``keys`` says which documents an event touches; ``evolve`` folds one event into one
document. Neither does I/O, so the same code serves the persistent projector (documents in a
table, checkpoint committed with them) and in-memory replays as of a past date.

Retraction: when the log holds ``event.retracted`` for position P, the projector looks up event P,
asks ``keys(P)`` which documents it touched, and calls ``evolve(doc, retraction)`` on each; a
document therefore records the positions that set each of its facts, so it can drop them (and
bring back what they had superseded).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from tracker.events import RecordedEvent

Doc = dict[str, Any]


class Projection(Protocol):
    #: Stable name, used as the table partition and checkpoint key.
    name: str
    #: Bump when ``evolve`` changes meaning: a stored projection of an older version is rebuilt.
    version: int
    #: Event types this projection reads (``event.retracted`` is always delivered as well).
    types: frozenset[str]

    def keys(self, event: RecordedEvent) -> Iterable[str]:
        """The document keys ``event`` touches (for a retraction: see module docstring)."""
        ...

    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        """Fold ``event`` into ``doc`` (``None``: no document yet). Returning None deletes it.

        Must not mutate ``doc``: return a new value (copy what changes).
        """
        ...

    def sort_key(self, key: str, doc: Doc) -> str:
        """How reports order documents (e.g. a timeline by occurred time)."""
        ...
