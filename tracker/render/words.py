"""Values as a reader says them: counts with the right plural, yes and no, "20 firms".

Human output (text and Markdown) never shows Python or JSON: no ``False``, ``None`` or
``{"firms": 20}``. The machine formats (JSON, CSV's raw columns) keep the values themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN = "unknown"

#: Plurals that are not the singular with an "s".
_PLURALS = {"entry": "entries", "story": "stories", "veto": "vetoes", "policy": "policies",
            "reply": "replies", "copy": "copies", "match": "matches", "page": "pages",
            "category": "categories"}


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 entry``, ``2 entries``, ``0 feeds``."""
    if count == 1:
        return f"{count} {singular}"
    if many is None:
        head, _, last = singular.rpartition(" ")
        word = _PLURALS.get(last, last + "s")
        many = f"{head} {word}" if head else word
    return f"{count} {many}"


def of_total(shown: int, total: int, what: str, hint: str) -> str:
    """``10 of 400 stories (--limit to see more)``, or ``12 stories`` when all are shown."""
    if shown >= total:
        return plural(total, what)
    return f"{shown} of {plural(total, what)} ({hint})"


def words(text: Any) -> str:
    """An identifier as words: ``first_firms_served`` is "first firms served"."""
    return str(text).replace("_", " ")


def yes_no(flag: Any) -> str:
    return UNKNOWN if flag is None else "yes" if flag else "no"


def number(value: Any) -> str:
    """``20``, ``1.5``; a float that is a whole number without its ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bound(qualifier: Any) -> str:
    """A count qualifier as the words before the number: ``more_than`` is "more than"; none
    for a missing qualifier or ``exactly``."""
    return words(qualifier) if qualifier and qualifier != "exactly" else ""


def amount(count: Any, qualifier: Any = None, unit: str = "") -> str:
    """``more than 50 projects``, ``up to 145%``, ``12``."""
    lead = bound(qualifier)
    text = f"{number(count)}%" if unit == "%" else number(count)
    if unit and unit != "%":
        text = plural(int(count), unit) if isinstance(count, int) else f"{text} {unit}"
    return f"{lead} {text}".strip()


def value(v: Any, *, verbatim: bool = False) -> str:
    """Any value from a report, as words: None is "unknown", booleans are yes and no, lists
    are joined, mappings are read by :func:`mapping`; text reads as words (``in_force`` is
    "in force") unless ``verbatim``."""
    if v is None:
        return UNKNOWN
    if isinstance(v, bool):
        return yes_no(v)
    if isinstance(v, (int, float)):
        return number(v)
    if isinstance(v, Mapping):
        return mapping(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(value(x, verbatim=verbatim) for x in v) or "none"
    return str(v) if verbatim else words(v)


def _where(m: Mapping[str, Any]) -> str:
    imposer, target = m.get("imposer"), m.get("target")
    if imposer and target:
        return f"{imposer} on {target}"
    return str(imposer or target or "")


def mapping(m: Mapping[str, Any]) -> str:
    """A structured value as a phrase: ``{"firms": 20}`` is "20 firms", ``{"count": 50,
    "qualifier": "more_than"}`` "more than 50", a tariff "145% (US on China)". Keys it does not
    know read as "key value"; a false ``planned`` says nothing (the thing happened)."""
    parts: list[str] = []
    rest = dict(m)
    if "status" in rest:
        parts.append(words(rest.pop("status")))
    if "company" in rest or "stage" in rest:
        company, stage = rest.pop("company", None), rest.pop("stage", None)
        parts.append(": ".join(str(x) for x in (company, words(stage) if stage else None) if x))
    if "action" in rest:
        parts.append(words(rest.pop("action")))
    if "percent" in rest:
        parts.append(f"{number(rest.pop('percent'))}%")
    if "count" in rest:
        parts.append(amount(rest.pop("count"), rest.pop("qualifier", None)))
    if "firms" in rest:
        parts.append(plural(int(rest.pop("firms")), "firm"))
    where = _where(rest)
    rest.pop("imposer", None)
    rest.pop("target", None)
    planned = rest.pop("planned", None)
    details = []
    if where:
        details.append(where)
    if rest.get("venue"):
        details.append(str(rest.pop("venue")))
    if rest.get("items"):
        details.append(value(rest.pop("items")))
    if planned:
        parts.append("planned")
    for key, v in rest.items():
        if v not in (None, "", [], {}):
            parts.append(f"{words(key)} {value(v)}")
    text = ", ".join(p for p in parts if p)
    if details:
        text = f"{text} ({'; '.join(details)})" if text else "; ".join(details)
    return text or UNKNOWN


def fact(kind: Any, v: Any) -> str:
    """A news fact: ``project_count`` {count 50, more_than} is "more than 50 projects"."""
    if kind == "project_count" and isinstance(v, Mapping) and "count" in v:
        return amount(v["count"], v.get("qualifier"), "project")
    return value(v)
