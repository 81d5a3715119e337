"""The report in a real browser: headless Chromium opens index.html from file://, with the
network unreachable, and must draw a page, log nothing to its console (a blocked load or script
is logged there as a Content-Security-Policy violation) and leave the hostile story's script
unrun. Skipped without Chromium, except in CI (CI=true), where it must run."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.report.conftest import Log, report

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WIDTH, HEIGHT = 1200, 1600


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if IN_CI:
            pytest.fail("CI=true and chromium is not installed (.ci/run installs it: "
                        "apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def png_rows(data: bytes, rows: int) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``rows`` scanlines of an 8-bit RGB(A) PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompressobj().decompress(b"".join(idat), rows * (stride + 1))
    out: list[bytes] = []
    previous = bytearray(stride)
    for r in range(min(rows, height)):
        start = r * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc
                                      else up if pb <= pc else corner)) & 0xFF
        out.append(bytes(line))
        previous = line
    return width, height, out


def test_chromium_draws_the_report_offline_and_runs_nothing_from_a_feed(
        chromium: str, report_log: Log, tmp_path: Path) -> None:
    out = report(report_log.url, tmp_path / "site")
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         f"--window-size={WIDTH},{HEIGHT}", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom",
         (out / "index.html").as_uri()],
        capture_output=True, text=True, timeout=90, check=False)

    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "the page logged (a blocked load, a script, an error):\n" + \
        "\n".join(console)
    dom = result.stdout
    assert re.search(r"<title>Policy report</title>", dom), "a script changed the title"
    assert "pwned" not in re.search(r"<title>(.*?)</title>", dom, re.S)[1]
    assert not re.search(r"<(script|img|iframe)\b", dom, re.I), "live markup from a feed"
    assert "&lt;script&gt;document.title=" in dom  # the hostile title, as text
    assert "<svg" in dom  # the chart, inline

    data = shot.read_bytes()
    assert len(data) > 40_000, "a blank page compresses to almost nothing"
    width, height, rows = png_rows(data, 400)
    assert (width, height) == (WIDTH, HEIGHT)
    bpp = len(rows[0]) // width
    colours = {row[i:i + 3] for row in rows for i in range(0, len(row), bpp)}
    assert len(colours) > 8, f"only {len(colours)} colours in the top of the page"
