"""The README's commands and CI stay in step."""

from __future__ import annotations

import re

from tests.support.paths import ROOT


def _command_after(marker: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert _command_after("test-command") in ci_lines


def test_readme_run_command_uses_tracker():
    assert "tracker " in _command_after("run-command")


def _generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_embed_current_help_and_catalogue():
    generate = _generator()
    for name, build in generate.FILES.items():
        committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert committed == build(), f"docs/{name} is stale: run `python docs/generate.py`"


def test_every_command_help_has_an_example():
    generate = _generator()
    from click.testing import CliRunner

    from tracker.cli import main

    for path in generate._commands(main, []):
        output = CliRunner().invoke(main, [*path, "--help"]).output
        assert "Example" in output, f"`tracker {' '.join(path)} --help` shows no example"
