"""Finding one thing by the id a user typed: the whole id, or a unique prefix of it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tracker.errors import UsageError

#: The shortest prefix accepted: shorter ones would match too much to mean anything.
MIN_PREFIX: Final = 6


def unique_id(ids: Iterable[str], typed: str, *, kind: str, listed_by: str,
              id_prefix: str = "") -> str:
    """The one id of ``ids`` that ``typed`` names (an exact id wins over prefixes); a
    ``UsageError`` naming ``listed_by`` (the command that lists them) otherwise."""
    text = typed.strip().lower()
    if len(text) < MIN_PREFIX:
        raise UsageError(f"{kind} id {typed!r} is too short: give at least {MIN_PREFIX} "
                         f"characters (see `{listed_by}`)")
    if id_prefix and not text.startswith(id_prefix):
        text = id_prefix + text
    known = list(ids)
    found = [i for i in known if i == text] or [i for i in known if i.startswith(text)]
    if not found:
        raise UsageError(f"no {kind} {typed!r} (see `{listed_by}`)")
    if len(found) > 1:
        raise UsageError(f"{kind} id {typed!r} is ambiguous: give more characters")
    return found[0]


def short_ids(ids: Iterable[str], *, minimum: int = MIN_PREFIX,
              id_prefix: str = "") -> dict[str, str]:
    """Each id's shortest prefix that names it alone among ``ids`` (what a person types to
    act on it): at least ``minimum`` characters after ``id_prefix``, which is kept."""
    ordered = sorted(set(ids))
    out: dict[str, str] = {}
    for i, full in enumerate(ordered):
        need = len(id_prefix) + minimum if full.startswith(id_prefix) else minimum
        for other in (ordered[i - 1] if i else None,
                      ordered[i + 1] if i + 1 < len(ordered) else None):
            if other is not None:
                common = next((n for n, (a, b) in enumerate(zip(full, other, strict=False))
                               if a != b), min(len(full), len(other)))
                need = max(need, common + 1)
        out[full] = full[:need]
    return out
