"""The README's cron line and systemd units work as written: the units pass
`systemd-analyze verify`, and the commands they run log timestamped lines."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT, SAMPLE_FEEDS
from tracker.app import open_tracker
from tracker.feeds import add_feed

README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALLED = "/opt/tracker/.venv/bin/tracker"
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO tracker\.ingest: ", re.M)


def tracker_program() -> str:
    found = Path(sys.executable).parent / "tracker"
    if not found.is_file():
        pytest.skip("no tracker script next to this Python")
    return str(found)


def units() -> dict[str, str]:
    after = README.split("<!-- systemd-units -->", 1)[1]
    blocks = re.findall(r"```ini\n(.+?)```", after, re.S)[:2]
    out = {}
    for block in blocks:
        first, _, body = block.partition("\n")
        out[Path(first.removeprefix("# ").strip()).name] = body
    return out


@pytest.fixture
def offline_db(tmp_path) -> str:
    """A database following one local sample feed only: ingest stays off the network."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker = open_tracker(url)
    try:
        add_feed(tracker, "delta", str(SAMPLE_FEEDS / "delta-trade-wire.xml"), allow_local=True)
    finally:
        tracker.close()
    return url


def test_the_units_say_what_a_service_needs() -> None:
    found = units()
    assert set(found) == {"tracker-ingest.service", "tracker-ingest.timer"}
    service, timer = found["tracker-ingest.service"], found["tracker-ingest.timer"]
    for line in ("Wants=network-online.target", "After=network-online.target",
                 "User=tracker", "Type=oneshot", "SuccessExitStatus=6"):
        assert line in service.splitlines(), line
    assert "WantedBy=timers.target" in timer.splitlines()
    assert "systemctl enable --now tracker-ingest.timer" in README


def test_the_units_verify(tmp_path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here")
    program = tracker_program()
    for name, body in units().items():
        (tmp_path / name).write_text(body.replace(INSTALLED, program), encoding="utf-8")
    done = subprocess.run([analyze, "verify", "--man=no", *sorted(str(p) for p in
                                                              tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tracker-ingest" not in done.stderr, done.stderr


def test_the_service_command_logs_with_timestamps(tmp_path, offline_db) -> None:
    service = units()["tracker-ingest.service"]
    command = next(line.split("=", 1)[1] for line in service.splitlines()
                   if line.startswith("ExecStart="))
    argv = shlex.split(command.replace(INSTALLED, tracker_program()))
    config = tmp_path / "tracker.toml"
    config.write_text(f'database_url = "{offline_db}"\n', encoding="utf-8")
    environment = dict(os.environ, TRACKER_CONFIG=str(config))
    environment.pop("TRACKER_DATABASE_URL", None)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 0, done.stderr
    assert TIMESTAMPED.search(done.stderr), done.stderr


def test_the_cron_line_keeps_a_timestamped_log(tmp_path, offline_db) -> None:
    [line] = re.findall(r"```cron\n(.+?)\n```", README, re.S)
    fields = line.split(None, 5)
    assert len(fields) == 6 and fields[0] == "*/15", line
    command = fields[5].replace(INSTALLED, tracker_program())
    environment = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh",
                   "TRACKER_DATABASE_URL": offline_db, "LANG": "C.UTF-8"}
    for _run in range(2):
        done = subprocess.run(["/bin/sh", "-c", command], env=environment, timeout=120)
        assert done.returncode == 0
    log = (tmp_path / "tracker-ingest.log").read_text(encoding="utf-8")
    assert len(TIMESTAMPED.findall(log)) >= 5, log  # start, feed, summary; start, summary
    assert re.search(r"INFO tracker\.ingest: ingest: 1 feed.{0,4} polled", log), log
