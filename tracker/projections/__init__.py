"""The projections tracker maintains, by name (the name is also their table partition)."""

from __future__ import annotations

from tracker.projections.actors import Actors
from tracker.projections.base import Doc, Projection
from tracker.projections.feed_health import FeedHealth
from tracker.projections.policy_state import PolicyState
from tracker.projections.publishers import Publishers
from tracker.projections.sources import Sources
from tracker.projections.stories import Stories
from tracker.projections.timeline import Timeline

PROJECTIONS: dict[str, Projection] = {
    p.name: p for p in (PolicyState(), Timeline(), Actors(), Sources(), Stories(), FeedHealth(),
                        Publishers())
}

__all__ = ["PROJECTIONS", "Actors", "Doc", "FeedHealth", "PolicyState", "Projection",
           "Publishers", "Sources", "Stories", "Timeline"]
