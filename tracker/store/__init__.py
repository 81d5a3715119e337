"""The append-only event log and the tables derived from it."""

from tracker.store.eventstore import ANY, EventStore, VerifyResult

__all__ = ["ANY", "EventStore", "VerifyResult"]
