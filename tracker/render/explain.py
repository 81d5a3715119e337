"""`tracker news --explain` as text: each item, how it joined, what relevance decided."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_INDENT = "    "


def text(report: Mapping[str, Any]) -> str:
    """The story, then per item its source, why it joined and its decisions, then the
    analysts' corrections, each with its log position."""
    lines = [f"{report['id']}  {report.get('title') or ''}"]
    if report.get("asked") and report["asked"] != report["id"]:
        lines.append(f"  ({report['asked']} was merged into this story)")
    if report.get("merged"):
        lines.append(f"  merged into it: {', '.join(report['merged'])}")
    if report.get("split_from"):
        lines.append(f"  split out of: {report['split_from']}")
    lines += ["", f"Items ({len(report['items'])})"]
    for item in report["items"]:
        joined = item["joined"]
        lines.append(f"  {item['item_key']}  {item.get('feed')}  {item.get('published')}")
        lines.append(f"{_INDENT}{item.get('title') or ''}")
        lines.append(f"{_INDENT}{item.get('link') or '(no link)'}")
        lines.append(f"{_INDENT}joined: {joined['reason']} [#{joined['position']}]")
        for d in item["relevance"]:
            verdict = "relevant" if d["relevant"] else "not relevant"
            again = ", reclassified" if d["reclassified"] else ""
            lines.append(f"{_INDENT}relevance: {verdict}, score {d['score']} (threshold "
                         f"{d['threshold']}), tier {d['tier'] or '-'}, rules "
                         f"{d['rules_version']}{again}; matched: "
                         f"{', '.join(d['matched']) or '-'} [#{d['position']}]")
        if item.get("left"):
            lines.append(f"{_INDENT}left: split into {item['left']['story_id']} "
                         f"[#{item['left']['position']}]")
    if report.get("corrections"):
        lines += ["", "Corrections"]
    for c in report.get("corrections") or ():
        if c["type"] == "story.merged":
            what = f"merged {c['merged_id']} into {c['story_id']}"
        else:
            what = f"split {c['item_key']} out of {c['story_id']} into {c['new_story_id']}"
        note = f": {c['note']}" if c.get("note") else ""
        lines.append(f"  {what} by {c.get('actor')}{note} [#{c['position']}]")
    return "".join(f"{line}\n" for line in lines)
