"""Fixtures for the ingest tests: a scripted HTTP server on loopback and the hostile inputs.

The server runs http.server in a thread on 127.0.0.1 with an ephemeral port. Each test
registers handlers by path; handlers that stall wait on an event the fixture sets at
teardown, so no thread outlives its test by more than a moment.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

Handler = Callable[["ScriptedHandler"], None]


@dataclass
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]


@dataclass
class Loopback:
    """The running server: register ``routes[path] = handler``; read ``requests``."""

    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


class ScriptedHandler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        loopback = self.server.loopback
        loopback.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        handler = loopback.routes.get(self.path.split("?")[0])
        try:
            if handler is None:
                self.reply(404, b"not found")
            else:
                handler(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def stall(self, seconds: float) -> None:
        self.server.loopback.stop.wait(seconds)

    def trickle(self, data: bytes, every: float, limit: float = 10.0) -> None:
        """Send ``data`` one byte at a time, forever (until the client leaves or teardown)."""
        deadline = time.monotonic() + limit
        while not self.server.loopback.stop.is_set() and time.monotonic() < deadline:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.server.loopback.stop.wait(every):
                    return

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    loopback: Loopback


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = _Server(("127.0.0.1", 0), ScriptedHandler)
    server.loopback = Loopback(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.loopback
    finally:
        server.loopback.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read
