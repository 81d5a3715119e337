"""Logging for every command: ``-v``/``-q`` choose the level, records go to stderr with a
timestamp, so a cron or systemd log says when each line happened.

``tracker`` loggers: WARNING by default, ERROR with ``-q``, INFO with ``-v``, DEBUG with
``-vv``. Alembic and APScheduler stay at WARNING (their INFO lines are noise on every
start and every job run) unless ``-vv`` asks for everything.
"""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO lines only ``-vv`` shows.
QUIET_LIBRARIES: Final = ("alembic", "apscheduler")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (a test runner swaps it),
    never to a stream closed since."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_handler: logging.Handler | None = None


def level_for(verbose: int = 0, quiet: bool = False) -> int:
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(verbose: int = 0, quiet: bool = False) -> int:
    """Send log records to stderr, timestamped, at the level ``-v``/``-q`` chose; returns it.

    Calling it again replaces what an earlier call set up (one handler, never two)."""
    global _handler
    level = level_for(verbose, quiet)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = _StderrHandler()
    _handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(_handler)
    logging.getLogger("tracker").setLevel(level)
    libraries = level if level <= logging.DEBUG else max(level, logging.WARNING)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(libraries)
    return level
