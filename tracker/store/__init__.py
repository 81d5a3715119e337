"""The append-only event log (the only code that names the events table) and the tables derived
from it."""

from tracker.store.eventstore import ANY, EventStore
from tracker.store.verify import Head, VerifyResult

__all__ = ["ANY", "EventStore", "Head", "VerifyResult"]
