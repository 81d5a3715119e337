"""An explainable relevance score: which terms matched, what they weigh, which rule decided.

Rules live in a TOML file (seeds/relevance.toml) so that changing them is a reviewed edit with
a new version, and every decision records the version it was made under. The file's header
explains the scoring; this module only implements it.

Two tiers: ``core`` (the mechanism and its direct outcomes) is tried first; an item that is not
core may still be ``context`` (a change to a driver the dossier names, such as US tariffs on
Chinese goods), scored on the core terms and the ``[context]`` section's terms together.
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
from typing import Any, Literal

import opencc

from tracker.resources import seeds_dir

RULES_FILE = "relevance.toml"
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_SEPARATOR = re.compile(r"[\s\-‐‑–]+")
TierName = Literal["core", "context"]


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
class Veto:
    """A term that keeps an item out of a tier unless one of the ``unless`` groups matched too
    (weather in Hangzhou is not news about the mechanism; Hangzhou firms on it are)."""

    term: Term
    unless: frozenset[str]


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier's scoring: its own terms, threshold, required group combinations and vetoes."""

    name: TierName
    threshold: int
    terms: tuple[Term, ...]
    require_any: tuple[frozenset[str], ...]
    vetoes: tuple[Veto, ...] = ()


@dataclass(frozen=True, slots=True)
class Rules:
    """A loaded rules file: the core tier and, optionally, the context tier."""

    version: str
    core: Tier
    context: Tier | None = None

    @property
    def threshold(self) -> int:
        return self.core.threshold

    @property
    def terms(self) -> tuple[Term, ...]:
        return self.core.terms

    @property
    def require_any(self) -> tuple[frozenset[str], ...]:
        return self.core.require_any


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
    #: "core" or "context" when relevant, None when not.
    tier: TierName | None = None


def _english_pattern(aliases: Iterable[str], *, case_sensitive: bool = False
                     ) -> re.Pattern[str] | None:
    parts = []
    for alias in sorted(set(aliases), key=len, reverse=True):
        words = [re.escape(w) for w in _SEPARATOR.split(alias.strip()) if w]
        if words:
            parts.append(r"[\s\-‐‑–]+".join(words))
    if not parts:
        return None
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(parts) + r")(?:e?s)?(?![A-Za-z0-9])",
                      0 if case_sensitive else re.IGNORECASE)


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


#: Traditional, Simplified and the Hong Kong variant forms (關税 beside 關稅) folded to one
#: script, so a Chinese alias written in either script matches text in any of them.
_TO_ONE_SCRIPT = opencc.OpenCC("hk2s")


def _normalise(text: str) -> str:
    """Full-width letters to ASCII (NFKC) and Chinese to one script; aliases and text alike."""
    text = unicodedata.normalize("NFKC", text)
    return _TO_ONE_SCRIPT.convert(text) if _CJK.search(text) else text


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
    case_sensitive = entry.get("case_sensitive", False) is True  # "US" is not "us"
    return Term(
        name=name, group=group, weight=weight,
        pattern=_english_pattern((a for a in aliases if not _CJK.search(a)),
                                 case_sensitive=case_sensitive),
        substrings=tuple(a for a in aliases if _CJK.search(a)),
        exclude=_exclude_pattern(_normalise(str(p)) for p in entry.get("exclude", [])))


def _veto(entry: Mapping[str, Any], where: str) -> Veto:
    unless = entry.get("unless", [])
    if not isinstance(unless, list) or not unless:
        raise RulesError(f"{where}: veto {entry.get('name')!r} needs a non-empty unless list")
    return Veto(_term({"group": "veto", "weight": 0, **entry}, where),
                frozenset(str(g) for g in unless))


def _tier(name: TierName, data: Mapping[str, Any], where: str,
          known_groups: frozenset[str] = frozenset()) -> Tier:
    """One tier from its table; ``known_groups`` are groups it may name besides its own."""
    label = f"{where} [{name}]" if name == "context" else where
    try:
        threshold = data["threshold"]
        raw_terms = data["terms"]
    except KeyError as exc:
        raise RulesError(f"{label}: missing {exc.args[0]!r}") from None
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise RulesError(f"{label}: threshold must be an integer")
    terms = tuple(_term(t, label) for t in raw_terms)
    groups = known_groups | {t.group for t in terms}
    require = tuple(frozenset(str(g) for g in combo) for combo in data.get("require_any", []))
    vetoes = tuple(_veto(v, label) for v in data.get("veto", []))
    for combo in (*require, *(v.unless for v in vetoes)):
        unknown = combo - groups
        if unknown:
            raise RulesError(f"{label}: require_any or unless names unknown group(s) "
                             f"{sorted(unknown)}")
    return Tier(name, threshold, terms, require, vetoes)


def parse_rules(text: str, where: str = RULES_FILE) -> Rules:
    """Rules from TOML text; ``where`` names the source in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{where}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses per level of nesting
        raise RulesError(f"{where}: not accepted: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise RulesError(f"{where}: not valid TOML ({str(exc).split(':')[0]})") from None
    if "version" not in data:
        raise RulesError(f"{where}: missing 'version'")
    core = _tier("core", data, where)
    context = None
    if "context" in data:
        if not isinstance(data["context"], dict):
            raise RulesError(f"{where}: [context] must be a table")
        context = _tier("context", data["context"], where,
                        frozenset(t.group for t in core.terms))
    return Rules(version=str(data["version"]), core=core, context=context)


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


def _vetoed_by(tier: Tier, text: str, groups: set[str]) -> Veto | None:
    return next((v for v in tier.vetoes if not v.unless & groups and v.term.found_in(text)),
                None)


def _judge(tier: Tier, matched: list[Term], text: str, version: str) -> Decision:
    """The decision of one tier on the terms that matched."""
    score = sum(t.weight for t in matched)
    groups = {t.group for t in matched}
    combo = next((c for c in tier.require_any if c <= groups), None)
    if not tier.require_any:
        combo = frozenset()
    veto = _vetoed_by(tier, text, groups)
    relevant = score >= tier.threshold and combo is not None and veto is None
    prefix = "" if tier.name == "core" else f"{tier.name}: "
    if score < tier.threshold:
        reason = f"score {score} < {tier.threshold}"
    elif combo is None:
        have = ", ".join(sorted(groups)) or "none"
        reason = f"score {score} >= {tier.threshold} but no required combination (have {have})"
    else:
        reason = f"score {score} >= {tier.threshold}"
        if combo:
            reason += f" with {' + '.join(sorted(combo))}"
        if veto is not None:
            reason += f" but vetoed by {veto.term.name!r} (no {', '.join(sorted(veto.unless))})"
    return Decision(relevant=relevant, score=score, threshold=tier.threshold,
                    matched=tuple(t.name for t in matched), rules_version=version,
                    groups=tuple(sorted(groups)), reason=prefix + reason,
                    tier=tier.name if relevant else None)


def classify(title: str, summary: str, rules: Rules) -> Decision:
    """Score ``title`` + ``summary`` against ``rules`` and say why: core first, then context.

    A context decision scores the core terms and the context terms together, so its score,
    matched terms and reason show everything that counted.
    """
    text = _normalise(f"{title}\n{summary}")
    core_matched = [t for t in rules.core.terms if t.found_in(text)]
    core = _judge(rules.core, core_matched, text, rules.version)
    if core.relevant or rules.context is None:
        return core
    context = _judge(rules.context,
                     core_matched + [t for t in rules.context.terms if t.found_in(text)],
                     text, rules.version)
    return context if context.relevant else core
