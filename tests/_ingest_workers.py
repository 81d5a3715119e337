"""A scripted loopback feed server for the ingest-run tests, and the child-process functions
of the concurrency test (importable by name, as spawn requires).

The server is http.server in a thread on 127.0.0.1 with an ephemeral port. Each path has a
:class:`Route` the test can change between runs (body, status, headers, ETag behaviour, a
hang); stalled handlers wait on an event that :meth:`FeedServer.close` sets, so no thread
outlives its test by more than a moment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FEEDS = ROOT / "seeds" / "feeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "run"

#: The shipped sample feeds, by the name the tests subscribe them under.
SAMPLE_NAMES = ("delta-trade-wire", "gangzhe-caijing", "harbour-business-daily")


def sample(name: str) -> bytes:
    return (SAMPLE_FEEDS / f"{name}.xml").read_bytes()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Route:
    """What the server answers on one path.

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


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    status: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        owner = self.server.owner
        seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
        with owner.lock:
            owner.requests.append(seen)
            route = owner.routes.get(self.path.split("?")[0])
        try:
            if route is None:
                seen.status = 404
                self._reply(404, b"not found", {"Content-Type": "text/plain"})
                return
            if route.hang > 0:
                owner.stopping.wait(route.hang)
                return
            if route.status == 200 and route.etag is not None and route.honour_etag \
                    and seen.headers.get("if-none-match") == route.etag:
                seen.status = 304
                self._reply(304, b"", {"ETag": route.etag})
                return
            headers = {"Content-Type": route.content_type, **route.headers}
            if route.status == 200 and route.etag is not None:
                headers["ETag"] = route.etag
            seen.status = route.status
            self._reply(route.status, route.body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer


class FeedServer:
    """A running loopback server: ``serve(path, ...)`` sets a route; ``requests`` lists what
    it received."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def serve(self, path: str, body: bytes = b"", **kwargs: Any) -> Route:
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
        with self.lock:
            return [r for r in self.requests if r.path == "/" + path.lstrip("/")]

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)


# -- child processes ------------------------------------------------------------------------


def run_ingest(url: str, start: Any, report: Any) -> None:
    """Put "ready" on ``report``, wait for ``start``, run one ingest pass over every due
    feed and report what it did as (name, status, items, message) per feed, or the
    exception's text."""
    from tracker.app import open_tracker
    from tracker.ingest.run import ingest

    tracker = open_tracker(url)
    try:
        report.put("ready")
        start.wait(30)
        summary = ingest(tracker, timeout=(5, 5))
        report.put([(o.name, o.status, o.items, o.message) for o in summary.outcomes])
    except BaseException as exc:  # the parent must hear about it, not wait for a timeout
        report.put(f"error: {type(exc).__name__}: {exc}")
        raise
    finally:
        tracker.close()
