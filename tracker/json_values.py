"""Which JSON values orjson reads and writes exactly as the stdlib's ``json`` does.

orjson is several times faster, but it writes some floats differently (``1e-7`` for ``1e-07``),
NaN as null, and accepts types ``json`` refuses (UUIDs, enums, dates); it reads integers beyond
64 bits as floats. The store's encoder and decoder and the JSON reports use it only for values
this module vouches for, and the stdlib for everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCALARS: frozenset[type] = frozenset({str, int, bool, type(None)})


def holds_only(value: Any, float_ok: Callable[[float], bool] | None = None) -> bool:
    """Whether ``value`` holds nothing but dicts, lists, tuples, str, int, bool, None and the
    floats ``float_ok`` accepts (none without it). Keys are left to orjson, which refuses
    non-str ones, as it refuses integers beyond 64 bits: callers fall back on a refusal."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    elif kind is float:
        return float_ok is not None and float_ok(value)
    else:
        return kind in SCALARS
    for item in items:
        kind = type(item)
        if kind in SCALARS:
            continue
        if kind is float:
            if float_ok is None or not float_ok(item):
                return False
        elif not holds_only(item, float_ok):
            return False
    return True
