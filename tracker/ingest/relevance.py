"""An explainable relevance score: which terms matched, what they weigh, which rule decided.

Rules live in a TOML file (seeds/relevance.toml) so that changing them is a reviewed edit with
a new version, and every decision records the version it was made under. The file's header
explains the scoring; this module only implements it.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from tracker.resources import seeds_dir

RULES_FILE = "relevance.toml"
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_SEPARATOR = re.compile(r"[\s\-‐‑–]+")


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Term:
    """One canonical term: its group, weight, and how to find it in text."""

    name: str
    group: str
    weight: int
    pattern: re.Pattern[str] | None
    substrings: tuple[str, ...]
    exclude: re.Pattern[str] | None

    def found_in(self, text: str) -> bool:
        """True when an alias occurs in ``text`` once excluded phrases are blanked out."""
        if self.exclude is not None:
            text = self.exclude.sub(" ", text)
        if self.pattern is not None and self.pattern.search(text):
            return True
        return any(s in text for s in self.substrings)


@dataclass(frozen=True, slots=True)
class Rules:
    """A loaded rules file."""

    version: str
    threshold: int
    terms: tuple[Term, ...]
    require_any: tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """Why an item is (not) relevant: enough to show a reader and to re-check later."""

    relevant: bool
    score: int
    threshold: int
    matched: tuple[str, ...]
    rules_version: str
    groups: tuple[str, ...] = ()
    reason: str = ""


def _english_pattern(aliases: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    for alias in sorted(set(aliases), key=len, reverse=True):
        words = [re.escape(w) for w in _SEPARATOR.split(alias.strip()) if w]
        if words:
            parts.append(r"[\s\-‐‑–]+".join(words))
    if not parts:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(parts) + r")(?:e?s)?(?![A-Za-z0-9])",
                      re.IGNORECASE)


def _exclude_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    phrases = list(phrases)
    english = [p for p in phrases if not _CJK.search(p)]
    chinese = [re.escape(p) for p in phrases if _CJK.search(p)]
    parts = []
    pattern = _english_pattern(english)
    if pattern is not None:
        parts.append(pattern.pattern)
    parts.extend(chinese)
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _term(entry: Mapping[str, Any], where: str) -> Term:
    try:
        name = str(entry["name"])
        group = str(entry["group"])
        weight = entry["weight"]
        aliases = [str(a) for a in entry["aliases"]]
    except (KeyError, TypeError) as exc:
        raise RulesError(f"{where}: a term needs name, group, weight and aliases ({exc})") \
            from None
    if not isinstance(weight, int) or isinstance(weight, bool):
        raise RulesError(f"{where}: term {name!r} weight must be an integer")
    if not aliases:
        raise RulesError(f"{where}: term {name!r} has no aliases")
    aliases = [_normalise(a) for a in aliases]
    return Term(
        name=name, group=group, weight=weight,
        pattern=_english_pattern(a for a in aliases if not _CJK.search(a)),
        substrings=tuple(a for a in aliases if _CJK.search(a)),
        exclude=_exclude_pattern(_normalise(str(p)) for p in entry.get("exclude", [])))


def parse_rules(text: str, where: str = RULES_FILE) -> Rules:
    """Rules from TOML text; ``where`` names the source in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{where}: not valid TOML ({exc})") from None
    try:
        version = str(data["version"])
        threshold = data["threshold"]
        raw_terms = data["terms"]
    except KeyError as exc:
        raise RulesError(f"{where}: missing {exc.args[0]!r}") from None
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise RulesError(f"{where}: threshold must be an integer")
    terms = tuple(_term(t, where) for t in raw_terms)
    groups = {t.group for t in terms}
    require = tuple(frozenset(str(g) for g in combo) for combo in data.get("require_any", []))
    for combo in require:
        unknown = combo - groups
        if unknown:
            raise RulesError(f"{where}: require_any names unknown group(s) {sorted(unknown)}")
    return Rules(version=version, threshold=threshold, terms=terms, require_any=require)


@functools.lru_cache(maxsize=1)
def _packaged_rules() -> Rules:
    source: Traversable = seeds_dir() / RULES_FILE
    return parse_rules(source.read_text(encoding="utf-8"), f"seeds/{RULES_FILE}")


def load_rules(path: str | Path | None = None) -> Rules:
    """The rules at ``path``, or the packaged seeds/relevance.toml when None."""
    if path is None:
        return _packaged_rules()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{file}: cannot read ({exc.strerror or exc})") from None
    return parse_rules(text, str(file))


def classify(title: str, summary: str, rules: Rules) -> Decision:
    """Score ``title`` + ``summary`` against ``rules`` and say why."""
    text = _normalise(f"{title}\n{summary}")
    matched = [t for t in rules.terms if t.found_in(text)]
    score = sum(t.weight for t in matched)
    groups = {t.group for t in matched}
    combo = next((c for c in rules.require_any if c <= groups), None)
    if not rules.require_any:
        combo = frozenset()
    relevant = score >= rules.threshold and combo is not None
    if relevant and combo is not None:
        reason = f"score {score} >= {rules.threshold}"
        if combo:
            reason += f" with {' + '.join(sorted(combo))}"
    elif score < rules.threshold:
        reason = f"score {score} < {rules.threshold}"
    else:
        have = ", ".join(sorted(groups)) or "none"
        reason = f"score {score} >= {rules.threshold} but no required combination (have {have})"
    return Decision(relevant=relevant, score=score, threshold=rules.threshold,
                    matched=tuple(t.name for t in matched), rules_version=rules.version,
                    groups=tuple(sorted(groups)), reason=reason)
