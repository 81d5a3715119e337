"""Claims from extracted facts: the real-world quantity (slot) a fact speaks to, the value it
gives it, the world date that value holds for, and whether the source only hedges it.

A slot names a quantity, never a story, so every outlet reporting the same thing fills the same
slot and their claims can be corroborated or seen to conflict. Slots:

- ``lifecycle``: where the mechanism stands, one of ``catalogue.STATUSES``;
- ``firms_served``: how many firms it has served (int);
- ``projects_signed``: ``{"count": int, "qualifier": "exactly" | "more_than" | "about" |
  "at_least"}``, since "more than 50" and "52" are different claims;
- ``tariff:<imposer>:<target>``: the rate in percent (the new rate of a change);
- ``export_control:<imposer>:<target>``: the action ("entity list addition", "ban",
  "licence requirement", "eased", "tightened"); the target is ``all`` when none is named;
- ``listing:<company>``: the stage reached in Hong Kong ("filed", "approved", "priced",
  "listed").

The hedge cues and date phrases are words of the lexicon (the extractor reads them too, to keep
the hedged or dated copy of a fact told twice); they are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.ingest.extract import Fact
from tracker.ingest.lexicon import hedge_in, place_name, publication_day, stated_date

__all__ = ["LIFECYCLE_OF", "PLACE_SLUGS", "ClaimDraft", "claims_of", "hedge_in", "place_slug",
           "slug", "stated_date"]


@dataclass(frozen=True, slots=True)
class ClaimDraft:
    """What one fact claims about one slot, before it is given an id and a source."""

    slot: str
    value: Any
    as_of: datetime
    precision: str
    as_of_stated: bool
    hedge: str | None
    context: bool


#: Words for where the mechanism stands (the extractor's statuses among them), onto
#: ``tracker.catalogue.STATUSES``.
LIFECYCLE_OF: Mapping[str, str] = {
    "proposed": "proposed", "planned": "proposed", "under_discussion": "proposed",
    "announced": "announced", "agreed": "announced", "unveiled": "announced",
    "signed": "announced",
    "launched": "in_force", "operational": "in_force", "in_operation": "in_force",
    "started": "in_force", "in_force": "in_force", "effective": "in_force",
    "implemented": "in_force", "live": "in_force", "first_firms_served": "in_force",
    "amended": "amended", "revised": "amended", "expanded": "amended",
    "suspended": "suspended", "paused": "suspended", "halted": "suspended",
    "ended": "ended", "scrapped": "ended", "terminated": "ended", "abolished": "ended",
    "cancelled": "ended", "uncertain": "uncertain", "stalled": "uncertain",
}

#: Names of imposers and targets, onto the slugs slots use.
PLACE_SLUGS: Mapping[str, str] = {
    **dict.fromkeys(("us", "u.s.", "usa", "united states", "washington", "美國", "美国",
                     "華府", "华府", "美方"), "us"),
    **dict.fromkeys(("china", "chinese", "chinese goods", "mainland", "beijing", "prc",
                     "中國", "中国", "內地", "内地", "北京", "中方"), "china"),
    **dict.fromkeys(("hong kong", "hk", "香港"), "hong-kong"),
    "eu": "eu", "canada": "canada", "mexico": "mexico", "japan": "japan", "vietnam": "vietnam",
}


def slug(text: str) -> str:
    """Lower-case words joined by hyphens; Chinese characters are kept (a company known only
    by its Chinese name keeps it)."""
    return re.sub(r"[^a-z0-9\u4e00-\u9fff]+", "-", text.lower()).strip("-")[:60]


def place_slug(name: str | None) -> str | None:
    """The slug of a place named by any of its aliases ("U.S.", "Washington", "美國" -> us)."""
    if not name:
        return None
    key = " ".join(name.lower().split())
    if key in PLACE_SLUGS:
        return PLACE_SLUGS[key]
    known = place_name(name)
    return PLACE_SLUGS.get(known.lower(), slug(known)) if known else None


Slotted = tuple[str, Any]


def _lifecycle_and_firms(value: Mapping[str, Any], sentence: str, dated: bool
                         ) -> Iterator[Slotted]:
    """A planned step with a date holds from that date ("to start operating in May"); without
    one, that it is planned means the mechanism is announced, and a planned halt says nothing
    yet. A count of firms is only a claim once they are served."""
    planned = bool(value.get("planned"))
    lifecycle = LIFECYCLE_OF.get(str(value.get("status")))
    if planned and not dated:
        lifecycle = "announced" if lifecycle in ("in_force", "announced") else None
    if lifecycle is not None:
        yield "lifecycle", lifecycle
    firms = value.get("firms")
    if isinstance(firms, int) and not isinstance(firms, bool) and firms > 0 and not planned:
        yield "firms_served", firms


def _projects(value: Mapping[str, Any], sentence: str, dated: bool) -> Iterator[Slotted]:
    count = value.get("count")
    if isinstance(count, int) and count > 0:
        yield "projects_signed", {"count": count,
                                  "qualifier": str(value.get("qualifier") or "exactly")}


def _tariff(value: Mapping[str, Any], sentence: str, dated: bool) -> Iterator[Slotted]:
    """Only a rate whose imposer and target are both named fills a slot."""
    imposer, target = place_slug(value.get("imposer")), place_slug(value.get("target"))
    percent = value.get("percent")
    if imposer and target and imposer != target and isinstance(percent, int | float):
        yield f"tariff:{imposer}:{target}", percent


_CONTROL_ACTIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("entity list addition", r"(?i)\bentity list\b|\bblacklist|實體清單|实体清单"
                                 r"|(?:列入|納入|纳入)[^，。,]{0,12}(?:名單|名单|清單|清单)"),
        ("ban", r"(?i)\bban(?:s|ned|ning)?\b|\bbar(?:s|red)?\b|禁止出口|出口禁令|禁運|禁运"),
        ("licence requirement", r"(?i)\blicen[cs]e|許可|许可"),
    ))


def _export_control(value: Mapping[str, Any], sentence: str, dated: bool
                    ) -> Iterator[Slotted]:
    """The action, as specific as the sentence allows; a control naming no destination
    applies to all."""
    imposer = place_slug(value.get("imposer"))
    if not imposer:
        return
    target = place_slug(value.get("target")) or "all"
    action = "eased" if value.get("action") == "eased" else next(
        (name for name, pattern in _CONTROL_ACTIONS if pattern.search(sentence)), "tightened")
    yield f"export_control:{imposer}:{target}", action


_LISTING_STAGES = frozenset({"filed", "approved", "priced", "listed"})


def _listing(value: Mapping[str, Any], sentence: str, dated: bool) -> Iterator[Slotted]:
    """A plan to list is not a stage; a stage needs the company named."""
    company, stage = value.get("company"), value.get("stage")
    if company and stage in _LISTING_STAGES and slug(str(company)):
        yield f"listing:{slug(str(company))}", stage


_SLOTS: Mapping[str, tuple[bool, Callable[[Mapping[str, Any], str, bool], Iterator[Slotted]]]] = {
    "mechanism_status": (False, _lifecycle_and_firms),
    "project_count": (False, _projects),
    "tariff_rate": (True, _tariff),
    "export_control": (True, _export_control),
    "listing": (False, _listing),
}


def claims_of(fact: Fact, *, published: datetime) -> list[ClaimDraft]:
    """The claims a fact makes, each dated to the world date its sentence gives (else the day
    it was published) and carrying the sentence's hedge, if any."""
    entry = _SLOTS.get(fact.kind)
    if entry is None:
        return []
    context, build = entry
    hedge = hedge_in(fact.sentence)
    stated = stated_date(fact.sentence, published)
    as_of, precision = stated or (publication_day(published), "day")
    return [ClaimDraft(slot, value, as_of, precision, stated is not None, hedge, context)
            for slot, value in build(fact.value, fact.sentence, stated is not None)]
