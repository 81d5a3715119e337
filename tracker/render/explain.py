"""`tracker news --explain` as text and Markdown: each item, how it joined, what relevance
decided."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.render import mdsafe
from tracker.render.facts import published_label

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
        when = published_label(item, day_only=False)
        lines.append(f"  {item['item_key']}  {item.get('feed')}  {when}")
        lines.append(f"{_INDENT}{item.get('title') or ''}")
        lines.append(f"{_INDENT}{item.get('link') or '(no link)'}")
        lines.append(f"{_INDENT}joined: {joined['reason']} [#{joined['position']}]")
        for d in item["relevance"]:
            lines.append(f"{_INDENT}relevance: {_relevance(d)} [#{d['position']}]")
        if item.get("left"):
            lines.append(f"{_INDENT}left: split into {item['left']['story_id']} "
                         f"[#{item['left']['position']}]")
    if report.get("corrections"):
        lines += ["", "Corrections"]
    for c in report.get("corrections") or ():
        lines.append(f"  {_correction(c)} [#{c['position']}]")
    return "".join(f"{line}\n" for line in lines)


def _relevance(d: Mapping[str, Any]) -> str:
    verdict = "relevant" if d["relevant"] else "not relevant"
    again = ", reclassified" if d["reclassified"] else ""
    return (f"{verdict}, score {d['score']} (threshold {d['threshold']}), tier "
            f"{d['tier'] or '-'}, rules {d['rules_version']}{again}; matched: "
            f"{', '.join(d['matched']) or '-'}")


def _correction(c: Mapping[str, Any]) -> str:
    if c["type"] == "story.merged":
        what = f"merged {c['merged_id']} into {c['story_id']}"
    else:
        what = f"split {c['item_key']} out of {c['story_id']} into {c['new_story_id']}"
    note = f": {c['note']}" if c.get("note") else ""
    return f"{what} by {c.get('actor')}{note}"

def markdown(report: Mapping[str, Any]) -> str:
    """As :func:`text`, for a briefing: feed text escaped, links only to http(s) URLs."""
    md, code = mdsafe.text, mdsafe.code
    out = [f"# {md(report.get('title') or report['id'])}", "", code(report["id"])]
    if report.get("asked") and report["asked"] != report["id"]:
        out += ["", f"{code(report['asked'])} was merged into this story."]
    if report.get("merged"):
        out += ["", "Merged into it: " + ", ".join(code(m) for m in report["merged"])]
    if report.get("split_from"):
        out += ["", f"Split out of: {code(report['split_from'])}"]
    out += ["", f"## Items ({len(report['items'])})"]
    for item in report["items"]:
        joined = item["joined"]
        link = mdsafe.autolink(item["link"]) if item.get("link") else "(no link)"
        out += ["", f"### {md(item.get('title') or item['item_key'])}", "",
                f"- {code(item['item_key'])}, {md(item.get('feed'))}, "
                f"{md(published_label(item, day_only=False))}",
                f"- {link}",
                f"- joined: {md(joined['reason'])} [#{joined['position']}]"]
        out += [f"- relevance: {md(_relevance(d))} [#{d['position']}]"
                for d in item["relevance"]]
        if item.get("left"):
            out.append(f"- left: split into {code(item['left']['story_id'])} "
                       f"[#{item['left']['position']}]")
    if report.get("corrections"):
        out += ["", "## Corrections", ""]
    out += [f"- {md(_correction(c))} [#{c['position']}]" for c in report.get("corrections") or ()]
    return "\n".join(out) + "\n"
