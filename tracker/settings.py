"""The config file, and every setting's effective value with where it came from.

Each setting is taken from a command-line flag, else the environment, else the config file,
else its default (``tracker config show`` prints which). The config file is ``--config PATH``,
else ``$TRACKER_CONFIG``, else ``tracker.toml`` in the user's config directory
(``~/.config/tracker/`` on Linux, ``$XDG_CONFIG_HOME`` honoured) when one is there::

    database_url = "postgresql://tracker@db/tracker"   # or a file path
    tz = "Asia/Hong_Kong"
    rules = "my-rules.toml"          # `tracker reclassify` without --rules

    [smtp]
    host = "smtp.example.org"
    port = 587
    user = "tracker"
    password_env = "TRACKER_SMTP_PASSWORD"   # the variable holding the password
    from = "tracker@example.org"
    starttls = true                  # true: required; false: never; absent: when offered

    [alerts]
    min_score = 12
    attempts = 5

    [alerts.channels.ops]
    secret_env = "OPS_HOOK_SECRET"   # the variable holding webhook ops's signing secret

Secrets never live in the file: it names the environment variables that hold them (a
``password`` or ``secret`` key is refused). Relative paths in the file are read from the
file's own directory. A file that cannot be read, is not TOML, or holds an unknown key or a
bad value is a :class:`ConfigError`: one line naming the file and the problem.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import platformdirs

from tracker.alerts.settings import (
    DEFAULT_ATTEMPTS,
    DEFAULT_MIN_SCORE,
    DEFAULT_PASSWORD_ENV,
    ENV_ATTEMPTS,
    ENV_MIN_SCORE,
    ENV_SMTP_FROM,
    ENV_SMTP_HOST,
    ENV_SMTP_PASSWORD_ENV,
    ENV_SMTP_PORT,
    ENV_SMTP_STARTTLS,
    ENV_SMTP_USER,
    starttls_value,
)
from tracker.config import ENV_URL
from tracker.errors import ConfigError, UsageError
from tracker.zones import ZONE_ENV, zone_named

ENV_CONFIG: Final = "TRACKER_CONFIG"
ENV_RULES: Final = "TRACKER_RULES"
FILE_NAME: Final = "tracker.toml"
#: Larger config files are refused unread: a config file is a few lines.
MAX_FILE_BYTES: Final = 1 << 20

Source = Literal["flag", "env", "file", "default"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("tracker", appauthor=False)) / FILE_NAME


# -- values ---------------------------------------------------------------------------------------


class BadValue(ValueError):
    """A value of the wrong shape; the caller says where it came from."""


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue("must be a non-empty string")
    if any(ord(c) < 32 for c in value):
        raise BadValue("must not hold control characters")
    return value.strip()


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool):
            raise BadValue(f"must be a whole number from {low} to {high}")
        if isinstance(value, str):
            if not re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value):
                raise BadValue(f"must be a whole number from {low} to {high}")
            value = int(value)
        if not isinstance(value, int) or not low <= value <= high:
            raise BadValue(f"must be a whole number from {low} to {high}")
        return value
    return convert


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise BadValue("must be a number")
    try:
        number = float(value) if isinstance(value, (str, int, float)) else math.nan
    except ValueError:
        raise BadValue("must be a number") from None
    if not math.isfinite(number):
        raise BadValue("must be a finite number")
    return number


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise BadValue("must be an environment variable name (letters, digits, _)")
    return value


def _starttls(value: Any) -> bool | None:
    """``true``: required; ``false``: never; ``auto`` (or absent): whenever offered."""
    try:
        return starttls_value(value)
    except ValueError as exc:
        raise BadValue(str(exc)) from None


def _zone(value: Any) -> str:
    """A time zone as ``tracker.zones`` reads it: an IANA name, UTC or an offset."""
    name = _text(value)
    try:
        zone_named(name)
    except UsageError:
        raise BadValue(f"{name[:60]!r} is not a known time zone: use an IANA name such as "
                       "Asia/Hong_Kong, UTC, or an offset such as +08:00") from None
    return name


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: its name in the file (dotted for tables), variable, flag and default."""

    name: str
    convert: Callable[[Any], Any]
    env: str | None
    flag: str | None
    default: Any
    help: str
    #: A path read from the file is resolved against the file's directory.
    path: bool = False


KEYS: Final[tuple[Key, ...]] = (
    Key("database_url", _text, ENV_URL, "--database-url", None,
        "the database (URL or file path)", path=True),
    Key("tz", _zone, ZONE_ENV, "--tz", None,
        "the time zone dates are read and shown in (default: the dossiers' own zone, else "
        "the system's)"),
    Key("rules", _text, ENV_RULES, "reclassify --rules", None,
        "the rules file `tracker reclassify` uses without --rules", path=True),
    Key("smtp.host", _text, ENV_SMTP_HOST, "--smtp-host", "localhost",
        "SMTP server for email channels"),
    Key("smtp.port", _integer(1, 65535), ENV_SMTP_PORT, "--smtp-port", 25, "its port"),
    Key("smtp.user", _text, ENV_SMTP_USER, "--smtp-user", None,
        "log in as this user (only over STARTTLS)"),
    Key("smtp.password_env", _env_name, ENV_SMTP_PASSWORD_ENV, "--smtp-password-env",
        DEFAULT_PASSWORD_ENV, "the environment variable holding the SMTP password"),
    Key("smtp.from", _text, ENV_SMTP_FROM, "--smtp-from", "tracker@localhost",
        "the From address"),
    Key("smtp.starttls", _starttls, ENV_SMTP_STARTTLS, None, None,
        "true: STARTTLS required; false: never; absent: whenever the server offers it"),
    Key("alerts.min_score", _number, ENV_MIN_SCORE, "alerts add --min-score",
        DEFAULT_MIN_SCORE, "story.new only for stories scoring at least this"),
    Key("alerts.attempts", _integer(1, 20), ENV_ATTEMPTS, "alerts send --attempts",
        DEFAULT_ATTEMPTS, "attempts per change and run before it is recorded as failed"),
)
BY_NAME: Final = {key.name: key for key in KEYS}
#: ``alerts.channels.NAME.secret_env``: the variable holding webhook NAME's signing secret.
CHANNEL_SECRET = "secret_env"
_SECRET_WORDS = ("password", "secret", "token")


# -- the file -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The config file in use: where it is, how it was named, and its values by dotted key."""

    path: Path
    #: ``flag`` (--config), ``env`` ($TRACKER_CONFIG) or ``default`` (the config directory).
    named_by: Source
    found: bool
    values: Mapping[str, Any] = field(default_factory=dict)
    #: Per webhook channel name, the variable holding its signing secret.
    channel_secrets: Mapping[str, str] = field(default_factory=dict)


def locate(option: str | None, environ: Mapping[str, str]) -> tuple[Path, Source]:
    if option:
        return Path(option).expanduser(), "flag"
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG]).expanduser(), "env"
    return default_config_path(), "default"


def read_file(option: str | None = None,
              environ: Mapping[str, str] | None = None) -> ConfigFile:
    """The config file ``--config``/``$TRACKER_CONFIG`` names (which must exist), else the
    default one when it exists; validated whole."""
    env = os.environ if environ is None else environ
    path, named_by = locate(option, env)
    if named_by == "default" and not path.exists():
        return ConfigFile(path, named_by, found=False)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        via = "--config" if named_by == "flag" else f"${ENV_CONFIG}"
        raise ConfigError(f"config file {path}: not found (named by {via})") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"config file {path}: larger than 1 MiB")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    values, secrets = _validate(data, path)
    return ConfigFile(path, named_by, True, values, secrets)


def _validate(data: Mapping[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    def fail(message: str) -> ConfigError:
        return ConfigError(f"config file {path}: {message}")

    values: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for dotted, value in _flatten(data):
        if dotted.startswith("alerts.channels."):
            channel, _, setting = dotted.removeprefix("alerts.channels.").rpartition(".")
            if not channel or setting != CHANNEL_SECRET or not _CHANNEL_NAME.fullmatch(channel):
                raise fail(f"unknown key {dotted!r}: a channel's table holds only "
                           f"{CHANNEL_SECRET} ([alerts.channels.NAME] {CHANNEL_SECRET} = "
                           "\"VAR\")")
            try:
                secrets[channel] = _env_name(value)
            except BadValue as exc:
                raise fail(f"{dotted} {exc}") from None
            continue
        key = BY_NAME.get(dotted)
        if key is None:
            last = dotted.rsplit(".", 1)[-1].lower()
            if any(word in last for word in _SECRET_WORDS) and not last.endswith("_env"):
                raise fail(f"{dotted}: secrets are not kept in the config file; name the "
                           "environment variable that holds it instead (e.g. password_env)")
            known = ", ".join(k.name for k in KEYS)
            raise fail(f"unknown key {dotted!r} (known: {known}, "
                       f"alerts.channels.NAME.{CHANNEL_SECRET})")
        try:
            converted = key.convert(value)
        except BadValue as exc:
            raise fail(f"{dotted} {exc}") from None
        if key.path:
            converted = _relative_to(converted, path.parent)
        values[dotted] = converted
    return values, secrets


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in data.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict):
            if not value:
                continue
            yield from _flatten(value, f"{dotted}.")
        else:
            yield dotted, value


def _relative_to(value: str, folder: Path) -> str:
    """A file path (not a URL) in the config file, read from the file's directory."""
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (folder / path).resolve())


# -- effective values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Effective:
    """A setting's value and where it came from: ``origin`` names the flag, variable or file."""

    key: str
    value: Any
    source: Source
    origin: str


@dataclass(frozen=True)
class Settings:
    """Flags given, the environment and the config file: every setting resolved by precedence."""

    file: ConfigFile
    environ: Mapping[str, str]
    flags: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Effective:
        key = BY_NAME[name]
        flag = self.flags.get(name)
        if flag is not None:
            return Effective(name, _convert(key, flag, key.flag or name), "flag",
                             key.flag or name)
        if key.env and self.environ.get(key.env):
            return Effective(name, _convert(key, self.environ[key.env], key.env), "env",
                             key.env)
        if name in self.file.values:
            return Effective(name, self.file.values[name], "file", str(self.file.path))
        return Effective(name, key.default, "default", "")

    def value(self, name: str) -> Any:
        return self.get(name).value

    def file_value(self, name: str) -> Any:
        """What the config file says for ``name`` (None when it says nothing)."""
        return self.file.values.get(name)

    def database_url(self) -> str:
        from tracker.config import database_url

        found = self.get("database_url")
        return database_url(str(found.value) if found.value is not None else None, environ={})

    def channel_secrets(self) -> Mapping[str, str]:
        return self.file.channel_secrets

    def effective(self) -> list[Effective]:
        """Every setting, the database URL resolved, then each channel's secret variable."""
        out = []
        for key in KEYS:
            found = self.get(key.name)
            if key.name == "database_url":
                found = Effective(found.key, self.database_url(), found.source, found.origin)
            out.append(found)
        for channel, variable in sorted(self.file.channel_secrets.items()):
            out.append(Effective(f"alerts.channels.{channel}.{CHANNEL_SECRET}", variable,
                                 "file", str(self.file.path)))
        return out


def _convert(key: Key, value: Any, where: str) -> Any:
    try:
        return key.convert(value)
    except BadValue as exc:
        raise UsageError(f"{where} {exc}") from None


def load(config: str | None = None, environ: Mapping[str, str] | None = None,
         flags: Mapping[str, Any] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(read_file(config, env), env,
                    {k: v for k, v in (flags or {}).items() if v is not None})


# -- the settings in force ------------------------------------------------------------------------

_active: list[Settings] = []


@contextmanager
def active(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the ones :func:`current` returns while a command runs (the jobs a
    `tracker schedule` runs read them too)."""
    _active.append(settings)
    try:
        yield settings
    finally:
        _active.remove(settings)


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the running command loaded, else those of the environment and the
    config file it names (or the default one)."""
    if _active:
        return _active[-1]
    return load(environ=environ)

