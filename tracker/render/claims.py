"""Claims as a reader weighs them: the value, the date it holds for, who says so and how firmly.

Used by the claims list and by every status rendering that shows a dispute beside a fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracker import lookup
from tracker.render import mdsafe, words
from tracker.render.facts import EMPTY, with_dating
from tracker.zones import when_text

_md = mdsafe.text

UNKNOWN = "unknown"


def value_text(value: Any) -> str:
    """A claimed value as words: "more than 50", "in force", "20 firms"."""
    return words.value(value)


#: The shortest claim id prefix shown (claim ids are UUIDs).
SHORT_ID = 8


def short_ids(report: Mapping[str, Any]) -> dict[str, str]:
    """Each listed claim's id cut to the shortest prefix (8 characters at least) that names it
    alone among the claims listed: what `tracker claims accept|reject` takes."""
    return lookup.short_ids((str(c["id"]) for c in report.get("claims") or ()),
                            minimum=SHORT_ID)


def who(sources: Sequence[Mapping[str, Any]]) -> str:
    """"Government, official" or "Reuters, wire +2 more"."""
    if not sources:
        return "no source"
    first = sources[0]
    text = f"{first.get('publisher') or first.get('publication')}, {first.get('tier')}"
    return text + (f" +{len(sources) - 1} more" if len(sources) > 1 else "")


def brief(claim: Mapping[str, Any]) -> str:
    """``40 (as at 2025-06-30; Government, official)``, hedged claims marked as such."""
    sources = claim.get("sources") or []
    bits = [f"as at {when_text(claim.get('as_of'))}" if claim.get("as_of_stated")
            else f"reported {when_text(claim.get('as_of'))}", who(sources)]
    if claim.get("hedged"):
        bits.append("hedged")
    return f"{value_text(claim.get('value'))} ({'; '.join(bits)})"


def others(fact: Mapping[str, Any]) -> str:
    """What stands beside a fact's value: "disputed: 95 (...); pending: 12 (...)"."""
    parts = []
    for state, word in (("conflict", "disputed"), ("pending", "pending"),
                        ("rejected", "rejected")):
        found = [brief(c) for c in fact.get("claims") or ()
                 if c.get("state") == state and not c.get("agrees")]
        if found:
            parts.append(f"{word}: " + "; ".join(found))
    return "  ".join(parts)


def settled_value(fact: Mapping[str, Any]) -> str:
    """A claim-slot fact's own value with its date and source, or "unknown"."""
    if fact.get("value") is None:
        return UNKNOWN
    sources = [s.get("citation") or {} for s in fact.get("sources") or ()]
    return (f"{value_text(fact['value'])} (as at {when_text(fact.get('as_of')) or EMPTY}; "
            f"{who(sources)})")


def text(report: Mapping[str, Any]) -> str:
    rows = report.get("claims") or []
    short = short_ids(report)
    head = f"Claims: {report.get('count', len(rows))} {report.get('state')}"
    if report.get("policy_id"):
        head += f" (policy {report['policy_id']})"
    out = [head]
    for claim in rows:
        out += ["", f"  {short[str(claim['id'])]}  {claim['slot']} = {brief(claim)}",
                f"    state: {claim['state']}" + _decided(claim.get("decided_by") or {})]
        for source in claim.get("sources") or ():
            hedge = f" [hedged: {source['hedge']}]" if source.get("hedge") else ""
            out.append(f"    #{source['position']} {source.get('publisher')} "
                       f"({source.get('tier')}){hedge}: {source.get('evidence') or EMPTY}")
            if source.get("link"):
                out.append(f"      {source['link']}")
    if not rows:
        out.append("  none")
    return "\n".join(out) + "\n"


def _decided(decided_by: Mapping[str, Any]) -> str:
    if decided_by.get("by") == "analyst":
        note = f": {decided_by['note']}" if decided_by.get("note") else ""
        return f" (by an analyst at #{decided_by.get('position')}{note})"
    if decided_by.get("rule") == "awaiting":
        return f" ({decided_by.get('reason')})"
    return f" (rule {decided_by.get('rule')}, version {decided_by.get('version')})"


def markdown(report: Mapping[str, Any]) -> str:
    rows = report.get("claims") or []
    short = short_ids(report)
    out = [f"# Claims: {_md(report.get('state'))}", ""]
    if not rows:
        out.append("None.")
    for claim in rows:
        out += [f"## {mdsafe.code(short[str(claim['id'])])} {_md(claim['slot'])} = "
                f"{_md(brief(claim))}", "",
                f"State: **{_md(claim['state'])}**"
                f"{_md(_decided(claim.get('decided_by') or {}))}", ""]
        for source in claim.get("sources") or ():
            link = f" {mdsafe.autolink(source['link'])}" if source.get("link") else ""
            out.append(f"- #{source['position']} {_md(source.get('publisher'))} "
                       f"({_md(source.get('tier'))}): {_md(source.get('evidence') or '')}"
                       f"{link}")
        out.append("")
    return "\n".join(out) + "\n"


def fact_line(fact: Mapping[str, Any], dossier_text: Callable[[Mapping[str, Any]], str]) -> str:
    """A status fact: its value (a claim slot's with its date and source, a dossier fact's as
    ``dossier_text`` writes it), then whatever disputes or awaits beside it."""
    base = settled_value(fact) if "as_of" in fact else dossier_text(fact)
    beside = others(fact)
    return f"{base}  {beside}" if beside else base


def status_beside(policy: Mapping[str, Any]) -> str:
    """Claims on the lifecycle status other than the one in force."""
    return others({"claims": policy.get("status_claims") or ()})


def status_line(policy: Mapping[str, Any], beside_after: str) -> str:
    """A policy's lifecycle status as a reader says it, with its note and dating, then (after
    ``beside_after``) the claims on it other than the one in force."""
    state = words.words(policy.get("status") or EMPTY)
    if policy.get("status_note"):
        state += f" ({policy['status_note']})"
    state = with_dating(state, policy.get("status_dating") or {})
    beside = status_beside(policy)
    return f"{state}{beside_after}{beside}" if beside else state
