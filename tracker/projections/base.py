"""What a projection is: a pure, keyed fold over events.

A projection's state is a set of JSON documents, one per key (a policy, an actor, a timeline
entry...). ``keys`` says which documents an event touches; ``evolve`` folds one event into one
document. Neither does I/O, so the same code serves the persistent projector (documents in a
table, checkpoint committed with them) and in-memory replays as of a past date.

Retraction: when the log holds a retraction (``catalogue.RETRACTED``) of position P, the projector
looks up event P, asks ``keys(P)`` which documents it touched, and calls ``evolve(doc,
retraction)`` on each; a document therefore records the positions that set each of its facts, so
it can drop them (and bring back what they had superseded).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from tracker.events import RecordedEvent

Doc = dict[str, Any]


class Projection(ABC):
    """A keyed, pure fold, with optional hooks that let a fold build each document once per
    batch.

    By default a fold step is ``evolve`` and a document needs no finishing; a projection whose
    visible document is costly to build overrides both, so that ``finish`` builds it once after
    many ``evolve_deferred`` steps.
    """

    name: str
    version: int
    types: frozenset[str]

    @abstractmethod
    def keys(self, event: RecordedEvent) -> Iterable[str]:
        """The document keys ``event`` touches (for a retraction: see module docstring)."""

    @abstractmethod
    def evolve(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        """Fold ``event`` into ``doc`` (``None``: no document yet). Returning None deletes it.

        Must not mutate ``doc``: return a new value (copy what changes).
        """

    @abstractmethod
    def sort_key(self, key: str, doc: Doc) -> str:
        """How reports order documents (e.g. a timeline by occurred time)."""

    def evolve_deferred(self, doc: Doc | None, event: RecordedEvent) -> Doc | None:
        """``evolve``, possibly leaving the document for ``finish`` to complete."""
        return self.evolve(doc, event)

    def finish(self, doc: Doc | None) -> Doc | None:
        """The document to store or show after ``evolve_deferred`` steps."""
        return doc
