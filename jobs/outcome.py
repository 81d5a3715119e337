"""What the job running in this thread made of its run, for the scheduler's log.

APScheduler logs "Job ... executed successfully" whenever a job function returns, and an
ingest job returns after a feed failed too (the failure is recorded, backed off and logged at
WARNING). A job notes its failure here; the scheduler's log filter turns that job's success
line into a WARNING saying it finished with failures.
"""

from __future__ import annotations

import threading

_state = threading.local()


def begin() -> None:
    """A job starts: nothing failed yet."""
    _state.failure = None


def failed(what: str) -> None:
    _state.failure = what


def take() -> str | None:
    """What failed in the job this thread ran last (None: nothing), forgotten once read."""
    failure: str | None = getattr(_state, "failure", None)
    _state.failure = None
    return failure
