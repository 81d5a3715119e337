"""When to poll a feed next: pure functions over the clock, the feed's hints and its failures.

Callers keep the state (consecutive failures, next due time). A success resets the failure
count to zero, so the next poll after recovery is at the normal interval again; a failure
never stops polling, it only spaces attempts out (with jitter, so many failing feeds do not
retry in lock-step) up to a ceiling.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import tenacity

#: Server hints (TTL, max-age, Retry-After) beyond this are clamped: a misconfigured header
#: must not silence a feed for weeks.
MAX_HINT_SECONDS = 24 * 3600.0
#: A subscription's interval beyond this is clamped: a stored interval too large for a date (a
#: typo such as ``999999999999d``, accepted by earlier versions) must not fail every ingest.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600.0
DEFAULT_BACKOFF_BASE = 60.0
DEFAULT_BACKOFF_CEILING = 6 * 3600.0


def next_due(
    now: datetime,
    *,
    every_seconds: float,
    ttl_minutes: int | None = None,
    cache_max_age: float | None = None,
    retry_after: float | None = None,
    max_hint_seconds: float = MAX_HINT_SECONDS,
) -> datetime:
    """The next poll time after a successful fetch at ``now``.

    The subscription's interval (at most :data:`MAX_INTERVAL_SECONDS`) is raised (never
    lowered) by the feed's ``<ttl>`` and by ``Cache-Control: max-age``; ``Retry-After`` pushes
    the time out further when it is later.
    """
    interval = min(float(every_seconds), MAX_INTERVAL_SECONDS)
    for hint in (ttl_minutes * 60.0 if ttl_minutes else None, cache_max_age):
        if hint is not None and hint > 0:
            interval = max(interval, min(hint, max_hint_seconds))
    due = now + timedelta(seconds=interval)
    if retry_after is not None and retry_after > 0:
        due = max(due, now + timedelta(seconds=min(retry_after, max_hint_seconds)))
    return due


def _attempt(consecutive_failures: int) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(),
                                    kwargs={})
    state.attempt_number = consecutive_failures
    return state


def backoff_delay(
    consecutive_failures: int,
    *,
    base: float = DEFAULT_BACKOFF_BASE,
    ceiling: float = DEFAULT_BACKOFF_CEILING,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the ``consecutive_failures``-th failure in a row.

    Exponential with full jitter: uniform in [0, min(ceiling, base * 2**(n-1))], as
    tenacity's ``wait_random_exponential`` computes it. ``rng`` makes the jitter
    reproducible (tenacity's own strategy draws from the global ``random``). Zero failures
    means no delay.
    """
    if consecutive_failures <= 0:
        return 0.0
    state = _attempt(consecutive_failures)
    if rng is None:
        return float(tenacity.wait_random_exponential(multiplier=base, max=ceiling)(state))
    high = tenacity.wait_exponential(multiplier=base, max=ceiling)(state)
    return rng.uniform(0.0, high)


def next_retry(
    now: datetime,
    consecutive_failures: int,
    *,
    base: float = DEFAULT_BACKOFF_BASE,
    ceiling: float = DEFAULT_BACKOFF_CEILING,
    rng: random.Random | None = None,
    retry_after: float | None = None,
    max_hint_seconds: float = MAX_HINT_SECONDS,
) -> datetime:
    """The next attempt after a failure: the backoff, or the server's Retry-After if later."""
    delay = backoff_delay(consecutive_failures, base=base, ceiling=ceiling, rng=rng)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, max_hint_seconds))
    return now + timedelta(seconds=delay)
