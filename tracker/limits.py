"""Bounds on what a user hands the tracker, so hostile input ends in one line, not a crash.

Positions are stored as PostgreSQL ``BIGINT`` (SQLite INTEGER is the same 64 bits); Python's
JSON parser recurses once per level of nesting, so a deep enough document would exhaust the
stack before any check of ours could run.
"""

from __future__ import annotations

import json
from typing import Any, Final

#: The largest log position either database can hold (a signed 64-bit integer).
MAX_POSITION: Final = 2**63 - 1
#: The deepest nesting of arrays and objects accepted in a JSON document a user supplies.
MAX_JSON_DEPTH: Final = 64


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than ``MAX_JSON_DEPTH``."""


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursing."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads``, refusing documents nested deeper than ``max_depth``.

    Raises ``JsonTooDeep`` for those, ``json.JSONDecodeError`` for text that is no JSON, and
    ValueError for numbers too long to convert.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(f"JSON nested deeper than the limit of {max_depth} levels") from None
    if json_depth(value) > max_depth:
        raise JsonTooDeep(f"JSON nested deeper than the limit of {max_depth} levels")
    return value
