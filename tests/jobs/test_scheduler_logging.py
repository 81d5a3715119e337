"""`tracker schedule`'s log: a job whose ingest failed is never "executed successfully"."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tracker.jobs import outcome as job_outcome
from tracker.jobs import scheduler as schedule

from tracker.app import open_tracker
from tracker.feeds import add_feed


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[tuple[str, str, str]]:
        return [(r.name, r.levelname, r.getMessage()) for r in list(self.records)]


def test_a_failed_ingest_job_is_logged_as_a_warning_not_a_success(sqlite_url, server) -> None:
    server.serve("/ok.xml", b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    server.serve("/broken.xml", b"down", status=500)
    tracker = open_tracker(sqlite_url)
    try:
        add_feed(tracker, "fine", server.url("/ok.xml"), allow_private=True)
        add_feed(tracker, "broken", server.url("/broken.xml"), allow_private=True)
    finally:
        tracker.close()
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("apscheduler", "tracker")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:  # as -vv sets them: every line APScheduler writes
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    stop = threading.Event()

    def on_start(scheduler: Any) -> None:
        for job_id in ("feed:fine", "feed:broken"):
            scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    thread = threading.Thread(target=schedule.run, args=(sqlite_url, stop),
                              kwargs={"sync_seconds": 60, "on_start": on_start}, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            done = [m for _n, _l, m in handler.lines()
                    if "executed successfully" in m or "finished with failures" in m]
            if len(done) >= 2:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(15)
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    lines = handler.lines()
    executor = [(level, message) for name, level, message in lines
                if name == "apscheduler.executors.default" and "ingest" in message
                and ("executed" in message or "finished" in message)]
    fine = [(level, message) for level, message in executor if "ingest fine" in message]
    # a job may run twice under load (the start-up sync can replace it); its first run is the
    # one that fetched (a second finds the failed feed backing off, which is no failure)
    assert fine and all(level == "INFO" and "executed successfully" in message
                        for level, message in fine), executor
    broken = [(level, message) for level, message in executor if "ingest broken" in message]
    assert broken, executor
    level, message = broken[0]
    assert level == "WARNING" and "finished with failures: 1 feed(s) failed" in message
    assert "executed successfully" not in message
    assert any(name == "tracker.jobs" and level == "WARNING" and "broken: FAILED" in message
               for name, level, message in lines)


def test_the_filter_leaves_other_jobs_alone() -> None:
    record = logging.LogRecord("apscheduler.executors.default", logging.INFO, __file__, 1,
                               'Job "%s" executed successfully', ("sync",), None)
    job_outcome.begin()
    assert schedule._NoSuccessAfterFailure().filter(record)
    assert record.levelname == "INFO" and record.getMessage() == 'Job "sync" executed successfully'
    job_outcome.failed("2 feed(s) failed")
    assert schedule._NoSuccessAfterFailure().filter(record)
    assert record.levelname == "WARNING"
    assert record.getMessage() == 'Job "sync" finished with failures: 2 feed(s) failed'
    assert job_outcome.take() is None  # read once
