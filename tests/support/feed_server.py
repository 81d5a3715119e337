"""The loopback feed server every test that fetches over HTTP uses (fixtures ``server`` and
``loopback`` in tests/conftest.py), and the shipped sample feeds it serves.

http.server runs in a thread on 127.0.0.1 with an ephemeral port. Each path has a route, which
is any callable taking the :class:`RequestHandler` of the request:

- a :class:`Route`, set with :meth:`FeedServer.serve`: a declared answer (body, status,
  headers, ETag behaviour, a hang) the test can change between runs;
- a script, set with ``server.routes[path] = handler``: a function that answers by hand with
  :meth:`RequestHandler.reply`, :meth:`~RequestHandler.stall`, :meth:`~RequestHandler.trickle`
  or raw writes, for the tests of fetch's limits.

Stalled handlers wait on an event that :meth:`FeedServer.close` sets, so no thread outlives
its test by more than a moment.

Header values go out as latin-1 (http.server's choice, and HTTP's): a test that wants a
server to send the bytes ``b"caf\xc3\xa9"`` gives the header as ``"caf\xc3\xa9"``, and reads
request headers back with ``.encode("latin-1")``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.paths import SAMPLE_FEEDS

#: The shipped sample feeds, by the name the tests subscribe them under.
SAMPLE_NAMES = ("delta-trade-wire", "gangzhe-caijing", "harbour-business-daily")


def sample(name: str) -> bytes:
    """The body of the shipped sample feed ``NAME``."""
    return (SAMPLE_FEEDS / f"{name}.xml").read_bytes()


Handler = Callable[["RequestHandler"], None]


@dataclass
class Seen:
    """A request the server received, and the status it answered (0: none, e.g. a hang)."""

    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Route:
    """A declared answer on one path.

    ``etag`` is sent with every 200; when ``honour_etag`` is true a request whose
    If-None-Match equals it gets a 304. ``hang`` > 0 makes the server accept the request and
    say nothing for that long (or until the server closes).
    """

    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    honour_etag: bool = True
    hang: float = 0.0

    def __call__(self, request: RequestHandler) -> None:
        if self.hang > 0:
            request.stall(self.hang)
            return
        if self.status == 200 and self.etag is not None and self.honour_etag \
                and request.headers.get("If-None-Match") == self.etag:
            request.reply(304, headers={"ETag": self.etag})
            return
        headers = {"Content-Type": self.content_type, **self.headers}
        if self.status == 200 and self.etag is not None:
            headers["ETag"] = self.etag
        request.reply(self.status, self.body, headers)


class RequestHandler(BaseHTTPRequestHandler):
    """One request: records it, then runs the route for its path (404 when there is none)."""

    server: _Server
    seen: Seen | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        owner = self.server.owner
        self.seen = seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
        with owner.lock:
            owner.requests.append(seen)
            route = owner.routes.get(self.path.split("?")[0])
        try:
            if route is None:
                self.reply(404, b"not found", {"Content-Type": "text/plain"})
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def send_response(self, code: int, message: str | None = None) -> None:
        if self.seen is not None:
            self.seen.status = code
        super().send_response(code, message)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              ) -> None:
        """Answer ``status`` with ``headers`` and ``body`` (a 304 carries neither a body nor a
        Content-Length)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 304:
            self.wfile.write(body)

    def stall(self, seconds: float) -> None:
        """Say nothing for ``seconds`` (or until the server closes)."""
        self.server.owner.stopping.wait(seconds)

    def trickle(self, data: bytes, every: float, limit: float = 10.0) -> None:
        """Send ``data`` one byte at a time, forever (until the client leaves, ``limit``
        seconds pass or the server closes)."""
        stopping = self.server.owner.stopping
        deadline = time.monotonic() + limit
        while not stopping.is_set() and time.monotonic() < deadline:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if stopping.wait(every):
                    return

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer


class FeedServer:
    """A running loopback server: ``serve(path, ...)`` declares a route, ``routes[path] = fn``
    scripts one; ``requests`` lists what it received, in order.

    ``host`` is 127.0.0.1 unless a test needs a second loopback address (127.0.0.2) to stand
    for another machine.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server((host, 0), RequestHandler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def serve(self, path: str, body: bytes = b"", **kwargs: Any) -> Route:
        """Answer ``path`` with a :class:`Route` built from ``body`` and ``kwargs``."""
        route = Route(body=body, **kwargs)
        with self.lock:
            self.routes["/" + path.lstrip("/")] = route
        return route

    def serve_samples(self, names: tuple[str, ...] = SAMPLE_NAMES, *,
                      honour_etag: bool = True) -> dict[str, str]:
        """Serve the sample feeds at /NAME with an ETag each; returns name -> URL."""
        for name in names:
            self.serve(name, sample(name), etag=f'"{name}-v1"', honour_etag=honour_etag)
        return {name: self.url(name) for name in names}

    def seen(self, path: str) -> list[Seen]:
        """The requests for ``path``, in order."""
        with self.lock:
            return [r for r in self.requests if r.path == "/" + path.lstrip("/")]

    def paths(self) -> list[str]:
        """The path of every request, in order."""
        with self.lock:
            return [r.path for r in self.requests]

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
