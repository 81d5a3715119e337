"""The relevance rules in force, as `tracker rules show` prints them in text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.render.words import plural
from tracker.zones import when_text


def text(report: Mapping[str, Any]) -> str:
    """Version, where it came from (the log position or the packaged file), terms per tier."""
    if report["recorded"]:
        origin = (f"set {when_text(report['set_at'])} by {report['actor']} at position "
                  f"#{report['position']} from {report['source']}")
    else:
        origin = f"packaged {report['source']} (the log records no rules.set)"
    lines = [f"policy   {report['policy_id']}", f"version  {report['version']}",
             f"origin   {origin}"]
    for name, tier in report["tiers"].items():
        vetoes = f", {plural(tier['vetoes'], 'veto')}" if tier["vetoes"] else ""
        lines.append(f"{name:<8} {plural(tier['terms'], 'term')}, threshold "
                     f"{tier['threshold']}{vetoes}")
    return "".join(f"{line}\n" for line in lines)
