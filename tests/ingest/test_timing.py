"""Scheduling maths: hints as lower bounds, Retry-After honoured, backoff with full jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tracker.ingest.timing import MAX_HINT_SECONDS, backoff_delay, next_due, next_retry

NOW = datetime(2025, 5, 1, tzinfo=UTC)


def test_interval_alone() -> None:
    assert next_due(NOW, every_seconds=1800) == NOW + timedelta(minutes=30)


def test_ttl_and_max_age_are_lower_bounds() -> None:
    assert next_due(NOW, every_seconds=1800, ttl_minutes=60) == NOW + timedelta(hours=1)
    assert next_due(NOW, every_seconds=1800, ttl_minutes=10) == NOW + timedelta(minutes=30)
    assert next_due(NOW, every_seconds=1800, cache_max_age=7200) == NOW + timedelta(hours=2)
    assert next_due(NOW, every_seconds=1800, cache_max_age=60) == NOW + timedelta(minutes=30)
    assert next_due(NOW, every_seconds=1800, ttl_minutes=60, cache_max_age=5400) == \
        NOW + timedelta(minutes=90)


def test_retry_after_is_honoured() -> None:
    assert next_due(NOW, every_seconds=600, retry_after=3600) == NOW + timedelta(hours=1)
    assert next_due(NOW, every_seconds=600, retry_after=60) == NOW + timedelta(minutes=10)


def test_absurd_hints_are_clamped() -> None:
    year = 365 * 24 * 3600.0
    cap = NOW + timedelta(seconds=MAX_HINT_SECONDS)
    assert next_due(NOW, every_seconds=600, cache_max_age=year) == cap
    assert next_due(NOW, every_seconds=600, ttl_minutes=10**7) == cap
    assert next_due(NOW, every_seconds=600, retry_after=year) == cap


def test_backoff_zero_failures_means_no_delay() -> None:
    assert backoff_delay(0, base=60, ceiling=3600, rng=random.Random(1)) == 0.0


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 30])
def test_backoff_stays_within_the_exponential_window(failures: int) -> None:
    rng = random.Random(failures)
    high = min(3600.0, 60.0 * 2 ** (failures - 1))
    delays = [backoff_delay(failures, base=60, ceiling=3600, rng=rng) for _ in range(200)]
    assert all(0.0 <= d <= high for d in delays)
    assert max(delays) > high * 0.8
    assert min(delays) < high * 0.2


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff_delay(n, base=60, ceiling=3600, rng=random.Random(7)) for n in range(1, 6)]
    again = [backoff_delay(n, base=60, ceiling=3600, rng=random.Random(7)) for n in range(1, 6)]
    assert first == again


def test_backoff_without_rng_uses_tenacity_jitter() -> None:
    delays = [backoff_delay(4, base=10, ceiling=50) for _ in range(100)]
    assert all(0.0 <= d <= 50.0 for d in delays)
    assert len(set(delays)) > 50


def test_next_retry_prefers_a_later_retry_after() -> None:
    rng = random.Random(3)
    assert next_retry(NOW, 1, base=60, ceiling=3600, rng=rng, retry_after=900) == \
        NOW + timedelta(seconds=900)
    soon = next_retry(NOW, 1, base=60, ceiling=3600, rng=random.Random(3))
    assert NOW <= soon <= NOW + timedelta(seconds=60)
