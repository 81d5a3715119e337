"""The scheduled alerts job (``tracker.jobs.alerts:send_alerts``): APScheduler stores this
import path, so it stays.

``tracker schedule`` runs it every minute while any alert channel exists; it delivers webhooks
and email. Digests print to stdout, which a daemon has no reader for: cron runs
``tracker alerts send`` for them.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Final

from tracker.jobs import outcome as job_outcome

from tracker.alerts import service
from tracker.alerts.channels import Senders
from tracker.alerts.outbox import EMAIL, WEBHOOK
from tracker.alerts.settings import AlertSettings
from tracker.app import open_tracker

ALERTS_JOB: Final = "tracker.jobs.alerts:send_alerts"
ALERTS_ID: Final = "alerts"
ALERTS_EVERY_SECONDS: Final = 60

log = logging.getLogger("tracker.jobs")


def _ignore(_text: str) -> None:
    """Where digests would print: the job sends none."""


def send_alerts(database_url: str) -> service.SendSummary:
    """Deliver what is pending to the webhook and email channels of ``database_url``."""
    job_outcome.begin()
    settings = AlertSettings.from_env()
    tracker = open_tracker(database_url)
    try:
        senders = Senders.default(settings, tracker.clock, _ignore, os.environ)
        try:
            summary = service.send(tracker, settings, senders, kinds=(WEBHOOK, EMAIL))
        finally:
            senders.close()
    finally:
        tracker.close()
    for outcome in summary.outcomes:
        if outcome.error is not None:
            log.warning("alerts %s", outcome.line())
        elif outcome.delivered:
            log.info("alerts %s", outcome.line())
    if summary.failed:
        job_outcome.failed(f"{len(summary.failed)} channel(s) not delivered to")
    return summary


def sync_alerts_job(database_url: str, scheduler: Any) -> bool:
    """Schedule the alerts job while any channel exists, and drop it when none is left;
    returns whether it is scheduled."""
    tracker = open_tracker(database_url)
    try:
        wanted = bool(service.channels_in_use(tracker))
    finally:
        tracker.close()
    existing = scheduler.get_job(ALERTS_ID)
    if wanted and existing is None:
        scheduler.add_job(ALERTS_JOB, "interval", seconds=ALERTS_EVERY_SECONDS, id=ALERTS_ID,
                          args=[database_url], replace_existing=True, name="send alerts")
        log.info("scheduled %s every %ss", ALERTS_ID, ALERTS_EVERY_SECONDS)
    elif not wanted and existing is not None:
        scheduler.remove_job(ALERTS_ID)
        log.info("removed job %s", ALERTS_ID)
    return wanted
