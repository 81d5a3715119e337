"""`tracker schedule`: APScheduler 3.x running the same job function as `tracker ingest`.

One job per feed (id ``feed:NAME``) at the feed's interval, in an SQLAlchemy job store on the
tracker database; ``coalesce`` and ``max_instances=1`` so a slow feed never piles up runs. A
sync job, kept in memory with the scheduler it edits (it is this process's wiring, not a job to
restore), re-reads subscriptions every minute so added or removed feeds are picked up live.
Several schedulers may share the database: feed leases make sure each fetch happens once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from tracker.jobs import outcome as job_outcome
from tracker.jobs.alerts import sync_alerts_job

from tracker.app import open_tracker
from tracker.feeds import subscriptions
from tracker.ingest.timing import MAX_INTERVAL_SECONDS

INGEST_JOB = "tracker.jobs.ingest:ingest_feed"
SYNC_ID = "sync-feeds"
JOB_TABLE = "apscheduler_jobs"
#: The job store of jobs that live and die with this process.
LOCAL = "local"

log = logging.getLogger("tracker.schedule")


class _NoSuccessAfterFailure(logging.Filter):
    """APScheduler says a job "executed successfully" whenever its function returned; a job
    that noted a failure (``tracker.jobs.outcome``: a feed failed, a channel was not
    delivered to) is logged at WARNING as finished with failures instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == 'Job "%s" executed successfully':
            failure = job_outcome.take()
            if failure is not None:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                record.msg = 'Job "%s" finished with failures: %s'
                record.args = (*(record.args or ("?",)), failure)
        return True


def _quiet_success_after_failure() -> None:
    executor_log = logging.getLogger("apscheduler.executors.default")
    if not any(isinstance(f, _NoSuccessAfterFailure) for f in executor_log.filters):
        executor_log.addFilter(_NoSuccessAfterFailure())


def build_scheduler(database_url: str, workers: int = 4) -> BackgroundScheduler:
    _quiet_success_after_failure()
    tracker = open_tracker(database_url)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=tracker.engine, tablename=JOB_TABLE),
                   LOCAL: MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC")
    return scheduler


def sync_jobs(database_url: str, scheduler: BackgroundScheduler,
              lease_seconds: int | None = None) -> set[str]:
    """Make the scheduler's feed jobs match the subscriptions in the log; returns job ids.

    A job's interval is the feed's (at most a year); ``lease_seconds`` goes to every job
    (None: the setting each job reads when it runs)."""
    tracker = open_tracker(database_url)
    try:
        subs = subscriptions(tracker)
    finally:
        tracker.close()
    wanted = {f"feed:{name}": sub for name, sub in subs.items()}
    for job in scheduler.get_jobs():
        if job.id.startswith("feed:") and job.id not in wanted:
            scheduler.remove_job(job.id)
            log.info("removed job %s", job.id)
    kwargs = {"lease_seconds": lease_seconds} if lease_seconds is not None else {}
    for job_id, sub in wanted.items():
        every = int(min(sub.every_seconds, MAX_INTERVAL_SECONDS))
        existing = scheduler.get_job(job_id)
        if existing is not None and getattr(existing.trigger, "interval", None) is not None \
                and existing.trigger.interval.total_seconds() == every \
                and dict(existing.kwargs) == kwargs:
            continue
        first_run = {} if existing is not None else {"next_run_time": datetime.now(UTC)}
        scheduler.add_job(INGEST_JOB, "interval", seconds=every, id=job_id,
                          args=[database_url, sub.name], kwargs=kwargs, replace_existing=True,
                          name=f"ingest {sub.name}", **first_run)
        log.info("scheduled %s every %ss", job_id, every)
    sync_alerts_job(database_url, scheduler)  # every minute while an alert channel exists
    return set(wanted)


def run(database_url: str, stop: threading.Event, *, sync_seconds: int = 60,
        on_start: Any = None, lease_seconds: int | None = None) -> None:
    """Run until ``stop`` is set; shut down cleanly, letting running jobs finish (each holds
    its feed's lease, renewed, until its unit of work is done, then hands it back)."""
    scheduler = build_scheduler(database_url)
    scheduler.start()
    try:
        sync_jobs(database_url, scheduler, lease_seconds)
        with contextlib.suppress(JobLookupError):  # persisted by earlier versions
            scheduler.remove_job(SYNC_ID, jobstore="default")
        scheduler.add_job(sync_jobs, "interval", seconds=sync_seconds, id=SYNC_ID,
                          args=[database_url, scheduler, lease_seconds], jobstore=LOCAL,
                          replace_existing=True, name="sync feed jobs")
        if on_start is not None:
            on_start(scheduler)
        while not stop.wait(0.5):
            pass
    finally:
        scheduler.shutdown(wait=True)
