"""Delivering one change to one channel: a signed webhook POST, an email, or a digest block.

Senders raise :class:`DeliveryError` (one line; ``permanent`` when trying again in this run is
pointless) and return a short description of the receiver's answer. :func:`with_retries`
retries the transient failures with a jittered exponential backoff (tenacity); its ``sleep`` is
handed in so tests never wait. The clock, the environment (secrets), the HTTP client and the
SMTP connection are handed in too.

Webhooks obey the same network policy as feeds (``tracker.ingest.netpolicy``, enforced in the
transport of ``tracker.ingest.transport``): internal addresses are refused unless the
channel was added with ``--allow-private``. The SMTP server is the operator's (like the
database), so it is not subject to the policy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
import tenacity

from tracker.alerts.changes import (
    CLAIM_PENDING,
    FACT_ACCEPTED,
    FACT_DISPUTED,
    FACT_SUPERSEDED,
    FACT_WITHDRAWN,
    STATUS_CHANGED,
    STORY_NEW,
    Change,
)
from tracker.alerts.outbox import DIGEST, EMAIL, WEBHOOK, Channel
from tracker.alerts.settings import AlertSettings, SmtpSettings
from tracker.dates import iso
from tracker.errors import UsageError
from tracker.ingest import netpolicy, transport
from tracker.ingest.transport import make_client
from tracker.render.words import plural

#: The payload's schema name (docs/alerts.md); a new major shape gets a new name.
SCHEMA: Final = "tracker.alert/1"
SIGNATURE_HEADER: Final = "X-Tracker-Signature"
TIMESTAMP_HEADER: Final = "X-Tracker-Timestamp"
KEY_HEADER: Final = "X-Tracker-Idempotency-Key"
KIND_HEADER: Final = "X-Tracker-Change"
#: How old a signed timestamp a receiver should accept (docs/alerts.md, ``verify``).
TOLERANCE_SECONDS: Final = 300
HINT: Final = "add the channel with --allow-private to deliver on an internal network"
#: Statuses worth another attempt in the same run.
_TRANSIENT_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


class DeliveryError(Exception):
    """A delivery that did not happen; ``str()`` is one line."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        #: How many attempts were made in all (set by :func:`with_retries`).
        self.attempts = 1


# -- targets ------------------------------------------------------------------------------------


def parse_target(target: str, allow_private: bool) -> tuple[str, str]:
    """``(kind, target)`` for what ``alerts add`` was given: a webhook URL, ``mailto:ADDRESS``
    or ``digest``. A URL with credentials, or naming an internal address as written, is
    refused (names are checked again, resolved, at every delivery)."""
    text = target.strip()
    if text == DIGEST:
        return DIGEST, DIGEST
    if text.lower().startswith("mailto:"):
        return EMAIL, f"mailto:{check_address(text[len('mailto:'):])}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise UsageError(f"cannot read alert target {netpolicy.redact(text)[:80]!r}: "
                         f"{exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"alert target {netpolicy.redact(text)[:80]!r}: give an http(s) "
                         "webhook URL, mailto:ADDRESS or digest")
    if netpolicy.has_credentials(text):
        raise UsageError("webhook URL carries credentials (user:password@): the log would keep "
                         "them; sign with --secret-env instead")
    reason = None if allow_private else netpolicy.internal_host(parts.hostname)
    if reason:
        raise UsageError(f"refused: {reason} ({HINT})")
    return WEBHOOK, text


def check_address(address: str) -> str:
    """One plain email address (no display name, no header tricks)."""
    name, found = parseaddr(address)
    if not found or name or found != address.strip() or "@" not in found \
            or _CONTROL.search(found) or " " in found or "," in found:
        raise UsageError(f"mailto: needs one email address, not {address[:80]!r}")
    return found


def check_env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise UsageError(f"--secret-env takes an environment variable's name, not {name[:40]!r}")
    return name


# -- what is sent -------------------------------------------------------------------------------


def payload(channel: Channel, change: Change, key: str, *, test: bool = False
            ) -> dict[str, Any]:
    """The JSON document a webhook receives (docs/alerts.md); the same for every resend."""
    return {"schema": SCHEMA, "idempotency_key": key, "channel": channel.name, "test": test,
            "change": change.as_data()}


def body_of(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over the timestamp, a full stop and the body, so a
    captured request cannot be replayed later under a new timestamp."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *, now: float,
           tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver checks: the signature matches, and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def summary(change: Change) -> str:
    """One line saying what changed."""
    slot, before, after = change.slot, _shown(change.before), _shown(change.after)
    lines = {
        STATUS_CHANGED: f"status {before} -> {after}",
        FACT_ACCEPTED: f"{slot} accepted: {after}" + (
            "" if change.before is None else " (confirms the dossier)"
            if change.before == change.after else f" (the dossier said {before})"),
        FACT_SUPERSEDED: f"{slot}: {before} -> {after}",
        FACT_WITHDRAWN: f"{slot} withdrawn (was {before})",
        FACT_DISPUTED: f"{slot} disputed: {after} against {before}",
        CLAIM_PENDING: f"{slot}: new claim {after} awaits acceptance (stands: {before})",
        STORY_NEW: f"new story (score {change.score:g}): {after}" if change.score is not None
                   else f"new story: {after}",
    }
    return _CONTROL.sub(" ", lines.get(change.kind, f"{change.kind}: {after}"))


def _decided(decided_by: Mapping[str, Any] | None) -> str:
    if not decided_by:
        return "-"
    by = decided_by.get("by")
    if by == "rule":
        text = f"rule {decided_by.get('rule')} (acceptance policy {decided_by.get('version')})"
    elif by == "analyst":
        note = decided_by.get("note")
        text = f"analyst at position {decided_by.get('position')}" + (f": {note}" if note else "")
    elif by == "relevance":
        text = f"relevance rules (score {decided_by.get('score')})"
    else:
        text = f"{by} at position {decided_by.get('position')}"
    if decided_by.get("disputes"):
        text += f"; disputes claim {decided_by['disputes']}"
    return text


def text(change: Change, key: str | None = None) -> str:
    """The change as a few lines of plain text (digest and email)."""
    lines = [f"{change.policy_title or change.policy_id}: {summary(change)}"]
    if change.world_date:
        lines.append(f"  as at {change.world_date}"
                     + (f" ({change.precision})" if change.precision else ""))
    lines.append(f"  decided by {_decided(change.decided_by)}")
    for s in change.sources:
        lines.append(f"  source: {s.get('publisher') or 'unknown'} ({s.get('tier') or 'unrated'})"
                     + (f" {s['link']}" if s.get("link") else "")
                     + (f" [position {s['position']}]" if s.get("position") else ""))
    lines.append(f"  {change.kind} at log position {change.position}, recorded "
                 f"{iso(change.recorded_at)}" + (f"; key {key}" if key else ""))
    return "\n".join(_CONTROL.sub(" ", line) for line in lines) + "\n"


# -- senders ------------------------------------------------------------------------------------


class Sender(Protocol):
    def send(self, channel: Channel, change: Change, key: str, *, test: bool = False) -> str:
        """Deliver, or raise :class:`DeliveryError`; returns the receiver's answer."""


def read_secret(channel: Channel, environ: Mapping[str, str],
                secret_envs: Mapping[str, str] | None = None) -> bytes | None:
    """The channel's signing secret, from the variable the config file names for it, else
    the one it was added with (None: unsigned)."""
    variable = (secret_envs or {}).get(channel.name) or channel.secret_env
    if variable is None:
        return None
    secret = environ.get(variable)
    if not secret:
        raise DeliveryError(f"environment variable {variable} (the secret of "
                            f"{channel.name}) is not set", permanent=True)
    return secret.encode("utf-8")


@dataclass
class WebhookSender:
    """JSON POST, signed when the channel names a secret; redirects are not followed."""

    client: httpx.Client
    clock: Clock
    environ: Mapping[str, str]
    timeout: tuple[float, float] = (10.0, 20.0)
    secret_envs: Mapping[str, str] = field(default_factory=dict)

    def send(self, channel: Channel, change: Change, key: str, *, test: bool = False) -> str:
        secret = read_secret(channel, self.environ, self.secret_envs)
        body = body_of(payload(channel, change, key, test=test))
        timestamp = str(int(self.clock().timestamp()))
        headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                   KEY_HEADER: key, KIND_HEADER: change.kind}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        try:
            response = transport.send(self.client, "POST", channel.target, content=body,
                                      headers=headers, timeout=self.timeout,
                                      allow_private=channel.allow_private)
        except netpolicy.AddressRefused as exc:
            raise DeliveryError(f"refused: {exc} ({HINT})", permanent=True) from None
        except httpx.InvalidURL as exc:
            raise DeliveryError(f"bad webhook URL: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {_one_line(exc)}") from None
        try:
            status = response.status_code
        finally:
            response.close()
        if 200 <= status < 300:
            return f"HTTP {status}"
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status}: webhooks do not follow redirects",
                                permanent=True)
        raise DeliveryError(f"HTTP {status}", permanent=status not in _TRANSIENT_STATUSES)


def _one_line(exc: BaseException) -> str:
    found = str(exc).strip()
    return _CONTROL.sub(" ", found.splitlines()[0])[:200] if found else type(exc).__name__


SmtpFactory = Callable[[str, int, float], smtplib.SMTP]


def _smtp(host: str, port: int, timeout: float) -> smtplib.SMTP:
    return smtplib.SMTP(host, port, timeout=timeout)


@dataclass
class EmailSender:
    """One message per change over SMTP: STARTTLS whenever the server offers it (required or
    never, as ``smtp.starttls`` says), and the password sent only over TLS."""

    smtp: SmtpSettings
    clock: Clock
    environ: Mapping[str, str]
    connect: SmtpFactory = _smtp

    def message(self, channel: Channel, change: Change, key: str, *, test: bool = False
                ) -> EmailMessage:
        message = EmailMessage()
        title = change.policy_title or change.policy_id
        subject = f"[tracker]{' TEST' if test else ''} {title}: {summary(change)}"
        message["Subject"] = _CONTROL.sub(" ", subject)[:200]
        message["From"] = self.smtp.sender
        message["To"] = channel.target.removeprefix("mailto:")
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = f"<{key}@tracker>"
        message[KEY_HEADER] = key
        message[KIND_HEADER] = change.kind
        message.set_content(text(change, key))
        return message

    def send(self, channel: Channel, change: Change, key: str, *, test: bool = False) -> str:
        message = self.message(channel, change, key, test=test)
        settings = self.smtp
        try:
            with self.connect(settings.host, settings.port, settings.timeout) as smtp:
                smtp.ehlo()
                secure = settings.starttls is not False and smtp.has_extn("starttls")
                if settings.starttls and not secure:
                    raise DeliveryError(f"SMTP server {settings.host} offers no STARTTLS "
                                        "(smtp.starttls = true requires it)", permanent=True)
                if secure:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if settings.user:
                    if not secure:
                        raise DeliveryError(
                            f"SMTP server {settings.host} offers no STARTTLS: the password is "
                            "not sent in clear", permanent=True)
                    password = self.environ.get(settings.password_env)
                    if not password:
                        raise DeliveryError(f"environment variable {settings.password_env} "
                                            "(the SMTP password) is not set", permanent=True)
                    smtp.login(settings.user, password)
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {_one_line(Exception(exc.smtp_error))}",
                                permanent=exc.smtp_code >= 500) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused {', '.join(exc.recipients)}",
                                permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {settings.host}:{settings.port}: "
                                f"{type(exc).__name__}: {_one_line(exc)}") from None
        if refused:
            raise DeliveryError(f"SMTP refused {', '.join(refused)}", permanent=True)
        return "250 OK"


@dataclass
class DigestSender:
    """Changes printed as one block per channel, for cron to mail."""

    out: Callable[[str], None]

    def block(self, channel: Channel, changes: list[Change], keys: list[str]) -> str:
        head = f"== {channel.name}: {plural(len(changes), 'change')} ==\n"
        return head + "".join(text(c, k) for c, k in zip(changes, keys, strict=True))

    def send_all(self, channel: Channel, changes: list[Change], keys: list[str]) -> str:
        try:
            self.out(self.block(channel, changes, keys))
        except OSError as exc:
            raise DeliveryError(f"cannot print the digest: {_one_line(exc)}") from None
        return "printed"

    def send(self, channel: Channel, change: Change, key: str, *, test: bool = False) -> str:
        return self.send_all(channel, [change], [key])


@dataclass
class Senders:
    """One sender per channel kind, and the sleep the retries use."""

    webhook: WebhookSender
    email: EmailSender
    digest: DigestSender
    sleep: Sleep = time.sleep

    def for_kind(self, kind: str) -> Sender:
        senders: dict[str, Sender] = {WEBHOOK: self.webhook, EMAIL: self.email,
                                      DIGEST: self.digest}
        return senders[kind]

    def close(self) -> None:
        self.webhook.client.close()

    @classmethod
    def default(cls, settings: AlertSettings, clock: Clock, out: Callable[[str], None],
                environ: Mapping[str, str], *, resolver: netpolicy.Resolver | None = None,
                sleep: Sleep = time.sleep) -> Senders:
        return cls(WebhookSender(make_client(resolver), clock, environ, settings.timeout,
                                 settings.secret_envs),
                   EmailSender(settings.smtp, clock, environ), DigestSender(out), sleep)


def with_retries(attempt: Callable[[], str], settings: AlertSettings, sleep: Sleep
                 ) -> tuple[str, int]:
    """``attempt()`` until it succeeds, fails permanently, or ``settings.attempts`` are spent,
    waiting a jittered exponential backoff between tries. Returns its answer and the number of
    attempts; raises the last :class:`DeliveryError` (its ``attempts`` set) otherwise."""
    tries = 0

    def once() -> str:
        nonlocal tries
        tries += 1
        return attempt()

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.attempts),
        wait=tenacity.wait_random_exponential(multiplier=settings.backoff_initial,
                                              max=settings.backoff_max),
        retry=tenacity.retry_if_exception(
            lambda exc: isinstance(exc, DeliveryError) and not exc.permanent),
        sleep=sleep, reraise=True)
    try:
        return retrying(once), tries
    except DeliveryError as exc:
        exc.attempts = tries
        raise
