"""The config file (tracker.toml), precedence flag > environment > file > default, `tracker
config show`, and global options written after the subcommand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from tests.support.cli import one_line_error
from tracker.alerts.settings import AlertSettings
from tracker.cli import main
from tracker.cli.global_options import hoist
from tracker.errors import EXIT_CONFIG, EXIT_USAGE
from tracker.settings import Settings, load

FULL = """
database_url = "from-file.db"
tz = "Asia/Hong_Kong"
rules = "rules/mine.toml"

[smtp]
host = "smtp.example.org"
port = 587
user = "tracker"
password_env = "MAIL_PASSWORD"
from = "tracker@example.org"
starttls = true

[alerts]
min_score = 12.5
attempts = 3

[alerts.channels.ops]
secret_env = "OPS_HOOK_SECRET"
"""


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def shown(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run(*args, "config", "show", "--format", "json", env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return dict(json.loads(result.stdout))


def write(folder: Path, text: str, name: str = "tracker.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch) -> None:
    for name in ("TRACKER_DATABASE_URL", "TRACKER_TZ", "TRACKER_SMTP_HOST", "TRACKER_SMTP_PORT",
                 "TRACKER_RULES", "TRACKER_ALERT_ATTEMPTS", "TRACKER_SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)


# -- precedence ---------------------------------------------------------------------------------


def test_every_setting_comes_from_the_file_with_its_source(tmp_path) -> None:
    path = write(tmp_path, FULL)
    report = shown("--config", str(path))
    assert report["config_file"] == {"path": str(path), "named_by": "flag", "found": True}
    settings = report["settings"]
    assert settings["database_url"] == {
        "value": f"sqlite:///{tmp_path / 'from-file.db'}", "source": "file", "from": str(path)}
    assert settings["rules"]["value"] == str(tmp_path / "rules" / "mine.toml")
    assert {key: value["value"] for key, value in settings.items()
            if key.startswith(("smtp.", "alerts."))} == {
        "smtp.host": "smtp.example.org", "smtp.port": 587, "smtp.user": "tracker",
        "smtp.password_env": "MAIL_PASSWORD", "smtp.from": "tracker@example.org",
        "smtp.starttls": True, "alerts.min_score": 12.5, "alerts.attempts": 3,
        "alerts.channels.ops.secret_env": "OPS_HOOK_SECRET"}
    assert {value["source"] for value in settings.values()} == {"file"}


def test_flag_beats_environment_beats_file_beats_default(tmp_path) -> None:
    path = write(tmp_path, 'database_url = "file.db"\n[smtp]\nhost = "file.example"\n')
    env = {"TRACKER_CONFIG": str(path)}
    assert shown(env=env)["settings"]["database_url"]["source"] == "file"
    env["TRACKER_DATABASE_URL"] = str(tmp_path / "env.db")
    env["TRACKER_SMTP_HOST"] = "env.example"
    settings = shown(env=env)["settings"]
    assert (settings["database_url"]["source"], settings["database_url"]["from"]) == (
        "env", "TRACKER_DATABASE_URL")
    assert settings["database_url"]["value"] == f"sqlite:///{tmp_path / 'env.db'}"
    assert settings["smtp.host"] == {"value": "env.example", "source": "env",
                                     "from": "TRACKER_SMTP_HOST"}
    settings = shown("--database-url", str(tmp_path / "flag.db"), env=env)["settings"]
    assert (settings["database_url"]["source"], settings["database_url"]["from"]) == (
        "flag", "--database-url")
    assert settings["smtp.port"] == {"value": 25, "source": "default", "from": None}
    assert shown(env=env)["config_file"]["named_by"] == "env"


def test_the_default_file_is_in_the_user_config_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert shown()["config_file"] == {"path": str(tmp_path / "tracker" / "tracker.toml"),
                                      "named_by": "default", "found": False}
    (tmp_path / "tracker").mkdir()
    write(tmp_path / "tracker", '[alerts]\nattempts = 2\n')
    report = shown()
    assert report["config_file"]["found"] is True
    assert report["settings"]["alerts.attempts"] == {
        "value": 2, "source": "file", "from": str(tmp_path / "tracker" / "tracker.toml")}


def test_the_database_the_file_names_is_the_one_used(tmp_path) -> None:
    path = write(tmp_path, 'database_url = "data/t.db"\n')
    (tmp_path / "data").mkdir()
    result = run("--config", str(path), "status")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "t.db").is_file()


def test_text_shows_each_source_and_masks_passwords(tmp_path) -> None:
    path = write(tmp_path, 'database_url = "postgresql://tracker:s3cret@db.example/tracker"\n')
    result = run("--config", str(path), "config", "show")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"config file: {path} (--config; found)"
    db = next(line for line in lines if line.startswith("database_url"))
    assert "postgresql://tracker:***@db.example/tracker" in db and db.endswith("file")
    assert "s3cret" not in shown("--config", str(path))["settings"]["database_url"]["value"]
    flagged = run("config", "show", "--database-url", "postgresql://u:pw@h/db").stdout
    assert "pw@" not in flagged and "flag --database-url" in flagged


# -- a bad file is one line naming it -------------------------------------------------------------


@pytest.mark.parametrize("text, fragment", [
    ("database_url = \n", "not valid TOML"),
    ("[smtp\nhost = 1\n", "not valid TOML"),
    ("databse_url = 'x.db'\n", "unknown key 'databse_url'"),
    ("[smtp]\nport = 'twenty-five'\n", "smtp.port must be a whole number"),
    ("[smtp]\nport = 70000\n", "smtp.port must be a whole number from 1 to 65535"),
    ("[smtp]\npassword = 'hunter2'\n", "secrets are not kept in the config file"),
    ("[smtp]\nstarttls = 'maybe'\n", "smtp.starttls must be true, false or auto"),
    ("[smtp]\npassword_env = 'NOT A NAME'\n", "smtp.password_env must be an environment"),
    ("tz = 'Mars/Olympus'\n", "not a known time zone"),
    ("[alerts]\nattempts = 0\n", "alerts.attempts must be a whole number from 1 to 20"),
    ("[alerts.channels.ops]\nsecret = 'x'\n", "a channel's table holds only secret_env"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, text, fragment) -> None:
    path = tmp_path / "tracker.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    for args in (("status",), ("config", "show")):
        line = one_line_error(run("--config", str(path), *args), EXIT_CONFIG, str(path), fragment)
        assert "hunter2" not in line


def test_a_named_config_file_must_exist(tmp_path) -> None:
    missing = tmp_path / "nope.toml"
    one_line_error(run("--config", str(missing), "status"), EXIT_CONFIG, str(missing), "not found",
             "--config")
    one_line_error(run("status", env={"TRACKER_CONFIG": str(missing)}), EXIT_CONFIG,
             "not found", "$TRACKER_CONFIG")
    one_line_error(run("--config", str(tmp_path), "status"), EXIT_CONFIG, "is a directory")
    assert not list(tmp_path.glob("*.db"))


def test_a_bad_value_in_the_environment_is_a_usage_error(tmp_path) -> None:
    result = run("config", "show", env={"TRACKER_SMTP_PORT": "lots"})
    one_line_error(result, EXIT_USAGE, "TRACKER_SMTP_PORT", "whole number")


# -- the file feeds what commands use -------------------------------------------------------------


def test_the_file_feeds_the_alert_settings(tmp_path) -> None:
    settings = load(str(write(tmp_path, FULL)), environ={})
    alert = AlertSettings.from_env({}, file=settings.file.values,
                                   secret_envs=settings.channel_secrets())
    assert (alert.smtp.host, alert.smtp.port, alert.smtp.user, alert.smtp.password_env,
            alert.smtp.sender, alert.smtp.starttls) == (
        "smtp.example.org", 587, "tracker", "MAIL_PASSWORD", "tracker@example.org", True)
    assert (alert.min_story_score, alert.attempts) == (12.5, 3)
    assert alert.secret_envs == {"ops": "OPS_HOOK_SECRET"}
    # the environment beats the file, an option beats both
    env = {"TRACKER_SMTP_HOST": "env.example", "TRACKER_SMTP_STARTTLS": "false",
           "TRACKER_ALERT_ATTEMPTS": "4"}
    alert = AlertSettings.from_env(env, file=settings.file.values, secret_envs={},
                                   smtp_host="option.example")
    assert (alert.smtp.host, alert.smtp.starttls, alert.attempts, alert.smtp.port) == (
        "option.example", False, 4, 587)


def test_commands_read_the_alert_settings_of_the_file_in_force(tmp_path) -> None:
    from tracker import settings as settings_file

    loaded = load(str(write(tmp_path, "[smtp]\nhost = 'in-force.example'\n")), environ={})
    with settings_file.active(loaded):
        assert AlertSettings.from_env({}).smtp.host == "in-force.example"
    assert AlertSettings.from_env({}).smtp.host == "localhost"


def test_a_webhook_signs_with_the_secret_the_file_names() -> None:
    from tracker.alerts.channels import read_secret
    from tracker.alerts.outbox import Channel

    channel = Channel(name="ops", kind="webhook", target="https://h.example/", on=(),
                      since=0, channel_id="c", secret_env="OLD_SECRET")
    environ = {"OLD_SECRET": "old", "NEW_SECRET": "new"}
    assert read_secret(channel, environ) == b"old"
    assert read_secret(channel, environ, {"ops": "NEW_SECRET"}) == b"new"
    assert read_secret(channel, environ, {"other": "NEW_SECRET"}) == b"old"


def test_reclassify_uses_the_rules_file_the_config_names(tmp_path) -> None:
    from tests.support.paths import SEEDS

    rules = (SEEDS / "relevance.toml").read_text(encoding="utf-8")
    write(tmp_path, rules.replace('version = "2025-05-01.4"', 'version = "from-config.1"'),
          "mine.toml")
    path = write(tmp_path, 'rules = "mine.toml"\n')
    db = str(tmp_path / "t.db")
    result = run("--config", str(path), "--database-url", db, "reclassify")
    assert result.exit_code == 0, result.output
    assert "under rules from-config.1" in result.stdout
    flag = run("--config", str(path), "--database-url", db, "reclassify", "--rules",
               str(SEEDS / "relevance.toml"))
    assert "under rules 2025-05-01.4" in flag.stdout


def test_the_time_zone_in_the_file_shows_times(tmp_path, monkeypatch, sqlite_url) -> None:
    monkeypatch.delenv("TRACKER_TZ", raising=False)
    path = write(tmp_path, 'tz = "Asia/Hong_Kong"\n')
    result = run("--config", str(path), "--database-url", sqlite_url, "log", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert " HKT " in result.stdout
    utc = run("--config", str(path), "--database-url", sqlite_url, "--tz", "UTC", "log",
              "--limit", "1")
    assert " UTC " in utc.stdout


# -- global options after the subcommand ----------------------------------------------------------


def test_global_options_work_after_the_subcommand(tmp_path) -> None:
    db = tmp_path / "after.db"
    result = run("status", "--database-url", str(db))
    assert result.exit_code == 0, result.output
    assert db.is_file()
    path = write(tmp_path, '[alerts]\nattempts = 2\n')
    report = json.loads(run("config", "show", "--format", "json", "--config", str(path),
                            "--database-url", f"sqlite:///{db}").stdout)
    assert report["config_file"]["path"] == str(path)
    assert report["settings"]["database_url"]["source"] == "flag"
    assert report["settings"]["alerts.attempts"]["value"] == 2
    nested = run("feeds", "list", "--database-url=" + str(db), "--tz", "UTC", "-v")
    assert nested.exit_code == 0, nested.output
    assert "hkgov-press-en" in nested.stdout


def test_the_same_option_before_and_after_the_command_takes_the_later(tmp_path) -> None:
    before, after = tmp_path / "before.db", tmp_path / "after.db"
    result = run("--database-url", str(before), "status", "--database-url", str(after))
    assert result.exit_code == 0
    assert after.is_file() and not before.exists()


def _group() -> click.Group:
    @click.group()
    @click.option("--database-url")
    @click.option("-v", "--verbose", count=True)
    def group(database_url: str | None, verbose: int) -> None:
        """A group like tracker's."""

    @group.command()
    @click.option("--note")
    @click.option("--tz")  # the command's own --tz wins over the global one
    @click.argument("names", nargs=-1)
    def cmd(note: str | None, tz: str | None, names: tuple[str, ...]) -> None:
        """A command."""

    @group.group()
    def sub() -> None:
        """A subgroup."""

    @sub.command()
    @click.argument("name")
    def leaf(name: str) -> None:
        """A leaf."""

    return group


@pytest.mark.parametrize("args, hoisted", [
    (["cmd", "x", "--database-url", "u"], ["--database-url", "u", "cmd", "x"]),
    (["cmd", "--database-url=u", "x"], ["--database-url=u", "cmd", "x"]),
    (["-v", "cmd", "-vv", "--config", "c"], ["-v", "-vv", "--config", "c", "cmd"]),
    (["cmd", "--note", "-v"], ["cmd", "--note", "-v"]),  # a value, not an option
    (["cmd", "--note", "--database-url"], ["cmd", "--note", "--database-url"]),
    (["cmd", "--tz", "UTC"], ["cmd", "--tz", "UTC"]),  # the command's own option
    (["cmd", "--", "--database-url", "u"], ["cmd", "--", "--database-url", "u"]),
    (["sub", "leaf", "n", "-q"], ["-q", "sub", "leaf", "n"]),
    (["--database-url", "a", "cmd", "--quiet"], ["--database-url", "a", "--quiet", "cmd"]),
    (["--help"], ["--help"]),
    ([], []),
])
def test_hoisting_moves_only_global_options(args, hoisted) -> None:
    assert hoist(_group(), args) == hoisted


def test_settings_effective_lists_every_key() -> None:
    settings = Settings(load(environ={}).file, {})
    keys = [found.key for found in settings.effective()]
    assert keys[:3] == ["database_url", "tz", "rules"]
    assert "smtp.starttls" in keys and "alerts.attempts" in keys
