"""Scheduled jobs (``tracker.jobs.ingest``): APScheduler stores these import paths, so they stay.

``tracker ingest`` (cron) and ``tracker schedule`` (daemon, wired in ``tracker.jobs.scheduler``)
run the same function.
"""

from __future__ import annotations

import logging

from tracker.jobs import outcome as job_outcome

from tracker.app import open_tracker
from tracker.config import lease_seconds as configured_lease
from tracker.errors import UsageError
from tracker.ingest.run import IngestSummary, ingest

log = logging.getLogger("tracker.jobs")


def ingest_feed(database_url: str, feed: str | None = None,
                lease_seconds: int | None = None) -> IngestSummary:
    """One ingest pass over ``feed`` (or every feed) against ``database_url``, fetching only
    what is due: backoff after failures, Retry-After and a feed's TTL hold for the scheduler
    as they do for cron. ``lease_seconds``: ``tracker schedule --lease``, else the setting
    (``TRACKER_LEASE_SECONDS``, two minutes by default)."""
    job_outcome.begin()
    lease = lease_seconds if lease_seconds is not None else configured_lease()
    tracker = open_tracker(database_url)
    try:
        summary = ingest(tracker, feed=feed, due_only=True, lease_seconds=lease)
    except UsageError as exc:  # unsubscribed since the job was scheduled: the sync drops it
        log.info("%s", exc)
        return IngestSummary()
    finally:
        tracker.close()
    for outcome in summary.outcomes:
        (log.warning if outcome.status == "failed" else log.info)("%s", outcome.line())
    if summary.failed:
        job_outcome.failed(f"{len(summary.failed)} feed(s) failed")
    return summary
