"""What the alert tests share: a webhook receiver (http.server on 127.0.0.1 in a thread), an
SMTP server (aiosmtpd on 127.0.0.1), a seeded tracker on SQLite and PostgreSQL, and claims
appended as ingest records them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tests.support.events import claim
from tests.support.paths import SEED_FILE
from tracker.alerts.channels import Senders
from tracker.alerts.settings import AlertSettings, SmtpSettings
from tracker.app import Tracker, open_tracker
from tracker.dossier import load_seeds
from tracker.events import NewEvent

JUNE_30 = datetime(2025, 6, 30, tzinfo=UTC)
SECRET = "s3cret-for-tests"


@dataclass
class Received:
    """One request the receiver got, and the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def key(self) -> str:
        return str(self.json["idempotency_key"])


@dataclass
class Receiver:
    """A webhook receiver: answers ``statuses`` in turn, then ``status``; keeps every
    request."""

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if self.statuses else self.status

    def keys(self, ok_only: bool = True) -> list[str]:
        with self.lock:
            return [r.key for r in self.requests if not ok_only or 200 <= r.status < 300]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = receiver.answer()
        with receiver.lock:
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body,
                                              status))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = found
    found.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)


@dataclass
class Mailbox:
    """What the SMTP server received."""

    host: str
    port: int
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", _free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def tracker(db_url: str, clock: FakeClock) -> Iterator[Tracker]:
    """The packaged dossier, without the default feeds (nothing reaches the network)."""
    found = open_tracker(db_url, clock)
    load_seeds(found, [SEED_FILE])
    yield found
    found.close()


@dataclass
class Out:
    """What digests printed."""

    parts: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> None:
        self.parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


@pytest.fixture
def out() -> Out:
    return Out()


@pytest.fixture
def waits() -> list[float]:
    """The backoff waits the retries asked for (nothing sleeps)."""
    return []


def settings_for(mailbox: Mailbox | None = None, **changes: Any) -> AlertSettings:
    smtp = SmtpSettings(host=mailbox.host, port=mailbox.port) if mailbox else SmtpSettings()
    return AlertSettings(smtp=smtp, **changes)


@pytest.fixture
def senders(tracker: Tracker, out: Out, waits: list[float]) -> Iterator[Senders]:
    found = Senders.default(settings_for(), tracker.clock, out, {"HOOK_SECRET": SECRET},
                            sleep=waits.append)
    yield found
    found.close()


def served(value: int, publisher: str = "HKSAR Government", tier: str = "official", *,
           claim_id: str | None = None, hedged: bool = False, as_of: datetime = JUNE_30,
           item: str = "item-1", slot: str = "firms_served") -> NewEvent:
    """A source claiming ``value`` for ``slot`` (the firms served, by default)."""
    return claim("mechanism_status", {"firms": value}, slot=slot, claim_value=value,
                 claim_id=claim_id, publisher=publisher, tier=tier, hedged=hedged, as_of=as_of,
                 item=item)


def append(tracker: Tracker, *events: NewEvent) -> list[int]:
    return [e.position for e in tracker.store.append("news", list(events))]
