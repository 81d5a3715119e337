"""Alert settings in one place: SMTP, retries, the default story score, webhook secrets.

Each value comes from a command-line option, else the environment, else the config file
(``[smtp]`` and ``[alerts]`` in ``tracker.toml``, read by :mod:`tracker.settings`), else its
default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from tracker.errors import UsageError

ENV_SMTP_HOST: Final = "TRACKER_SMTP_HOST"
ENV_SMTP_PORT: Final = "TRACKER_SMTP_PORT"
ENV_SMTP_USER: Final = "TRACKER_SMTP_USER"
ENV_SMTP_PASSWORD_ENV: Final = "TRACKER_SMTP_PASSWORD_ENV"
ENV_SMTP_FROM: Final = "TRACKER_SMTP_FROM"
ENV_SMTP_STARTTLS: Final = "TRACKER_SMTP_STARTTLS"
ENV_MIN_SCORE: Final = "TRACKER_ALERT_MIN_SCORE"
ENV_ATTEMPTS: Final = "TRACKER_ALERT_ATTEMPTS"
#: Where the SMTP password is read from when no other variable is named.
DEFAULT_PASSWORD_ENV: Final = "TRACKER_SMTP_PASSWORD"
DEFAULT_MIN_SCORE: Final = 10.0
DEFAULT_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How email channels reach their SMTP server. The password is never stored here, only
    the name of the variable it is read from when a message is sent."""

    host: str = "localhost"
    port: int = 25
    user: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    sender: str = "tracker@localhost"
    timeout: float = 30.0
    #: True: STARTTLS required (a server without it is refused); False: never used (a local
    #: relay); None: used whenever the server offers it.
    starttls: bool | None = None


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Everything delivery needs besides the channels themselves."""

    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    #: story.new is sent for stories scoring at least this, unless a channel says otherwise.
    min_story_score: float = DEFAULT_MIN_SCORE
    #: Attempts per change and run, and the exponential backoff between them (seconds).
    attempts: int = DEFAULT_ATTEMPTS
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    #: Webhook timeouts: (connect, read) seconds.
    timeout: tuple[float, float] = (10.0, 20.0)
    #: Per channel name, the variable holding its signing secret (the config file's
    #: ``[alerts.channels.NAME] secret_env``), in place of the one the channel was added with.
    secret_envs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 file: Mapping[str, Any] | None = None,
                 secret_envs: Mapping[str, str] | None = None,
                 **options: Any) -> AlertSettings:
        """Settings from ``options`` given (not None: ``smtp_host``, ``smtp_port``,
        ``smtp_user``, ``smtp_password_env``, ``smtp_from``, ``smtp_starttls``,
        ``min_score``, ``attempts``), else ``TRACKER_SMTP_*`` and ``TRACKER_ALERT_*``, else
        ``file`` (the config file's values by dotted key: ``smtp.host``...; by default the
        config file in force), else the defaults."""
        env = os.environ if environ is None else environ
        if file is None or secret_envs is None:
            from tracker import settings as config_file

            loaded = config_file.current(env)
            file = loaded.file.values if file is None else file
            secret_envs = loaded.channel_secrets() if secret_envs is None else secret_envs

        def pick(option: str, variable: str) -> str | None:
            value = options.get(option)
            if value is not None:
                return str(value)
            found = env.get(variable)
            if found:
                return found
            key = _FILE_KEYS[option]
            return str(file[key]) if file.get(key) is not None else None

        smtp = SmtpSettings()
        host = pick("smtp_host", ENV_SMTP_HOST)
        port = pick("smtp_port", ENV_SMTP_PORT)
        smtp = replace(
            smtp, host=host or smtp.host,
            port=_integer(port, "SMTP port", 1, 65535) if port else smtp.port,
            user=pick("smtp_user", ENV_SMTP_USER),
            password_env=pick("smtp_password_env", ENV_SMTP_PASSWORD_ENV) or smtp.password_env,
            sender=pick("smtp_from", ENV_SMTP_FROM) or smtp.sender,
            starttls=_starttls(options.get("smtp_starttls"), env.get(ENV_SMTP_STARTTLS),
                               file.get("smtp.starttls")))
        score = pick("min_score", ENV_MIN_SCORE)
        attempts = pick("attempts", ENV_ATTEMPTS)
        return cls(smtp=smtp,
                   min_story_score=_number(score, "minimum story score") if score
                   else DEFAULT_MIN_SCORE,
                   attempts=_integer(attempts, "alert attempts", 1, 20) if attempts
                   else DEFAULT_ATTEMPTS,
                   secret_envs=dict(secret_envs))


#: The config file's key for each option.
_FILE_KEYS: Final = {"smtp_host": "smtp.host", "smtp_port": "smtp.port",
                     "smtp_user": "smtp.user", "smtp_password_env": "smtp.password_env",
                     "smtp_from": "smtp.from", "min_score": "alerts.min_score",
                     "attempts": "alerts.attempts"}


def starttls_value(value: Any) -> bool | None:
    """``true``: STARTTLS required; ``false``: never; ``auto``: whenever offered (None).
    Raises ValueError for anything else."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in ("true", "yes", "1", "on", "require", "required"):
        return True
    if text in ("false", "no", "0", "off", "never"):
        return False
    if text == "auto":
        return None
    raise ValueError("must be true, false or auto")


def _starttls(option: Any, variable: str | None, from_file: Any) -> bool | None:
    """``smtp.starttls`` from the option, else the environment, else the config file."""
    if isinstance(option, bool):
        return option
    if variable:
        try:
            return starttls_value(variable)
        except ValueError:
            raise UsageError(f"{ENV_SMTP_STARTTLS} must be true, false or auto, not "
                             f"{variable[:40]!r}") from None
    return from_file if isinstance(from_file, bool) else None


def _integer(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{what} must be a whole number, not {text[:40]!r}") from None
    if not low <= value <= high:
        raise UsageError(f"{what} must be from {low} to {high}, not {value}")
    return value


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} must be a number, not {text[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{what} must be a finite number")
    return value
