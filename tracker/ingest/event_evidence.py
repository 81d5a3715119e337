"""When two write-ups tell one event in other words or another language: event-signature evidence.

Title similarity cannot tie a Chinese report to an English one, or a rewrite that shares few
words with the first report. These rules weigh what the two :class:`~tracker.ingest.
story_features.EventSignature` s share instead (dossier entities, key numbers with units,
stock codes, acts, dates) and how far apart the write-ups came out, and say why. They are
kept apart from :mod:`tracker.ingest.matching`, which weighs identity and titles first and
turns to :func:`event_evidence` last, so that each rule's window and strength can be read
(and tuned against bench/relevance.py) in one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from tracker.ingest.story_features import EventSignature

__all__ = [
    "EVENT_BODY_WINDOW", "EVENT_MIN_ENTITIES", "EVENT_RECAP_WINDOW", "EVENT_WINDOW",
    "SIBLING_WINDOW", "Evidence", "days_around", "event_evidence",
]

#: One event's write-ups come out within two days of each other.
EVENT_WINDOW = timedelta(hours=48)
#: A key number found only in a lede (not in both headlines) must come within one news
#: cycle of the story: a reaction next day repeats the figures of the news it follows.
EVENT_BODY_WINDOW = timedelta(hours=18)
EVENT_MIN_ENTITIES = 2
#: A recap (a weekly newsletter, a client alert) comes out within a week of the event it dates.
EVENT_RECAP_WINDOW = timedelta(days=7)
#: A publisher's releases of one announcement in two languages come out together.
SIBLING_WINDOW = timedelta(minutes=15)


class Evidence(NamedTuple):
    """How strongly two write-ups tell one event (larger: stronger, to rank stories), the
    reason to show, and whether it alone may join two stories."""

    strength: int
    reason: str
    strong: bool


def event_evidence(item: EventSignature, story: EventSignature,
                   min_entities: int = EVENT_MIN_ENTITIES,
                   same_site: bool = False,
                   near_title: bool = False,
                   story_start: datetime | None = None,
                   first_report: bool = True,
                   recap_days: frozenset[str] | None = None) -> Evidence | None:
    """(strength, reason) when two write-ups tell one event by signature, else None.

    A key number both headlines give is strong evidence (:data:`EVENT_WINDOW`); one found
    only in a lede is weaker (a reaction or a follow-up repeats the figures of the news it
    follows), so it takes two shared numbers, one of them in a headline, or three anywhere,
    within :data:`EVENT_BODY_WINDOW` of the story's
    first report (``story_start``), and only against that report: ``story`` may be a later
    write-up the story carries, and a reaction's lede repeats the figures of every write-up of
    the news it reacts to. Without numbers: see :func:`_wordless_evidence`. ``recap_days``:
    the days around ``story_start`` (:attr:`matching.StoryCandidate.prepared_recap_days`)."""
    apart = abs(item.published - story.published)
    since_start = apart if story_start is None else abs(item.published - story_start)
    found = None
    if apart <= EVENT_WINDOW and not item.conflicts(story):
        found = _close_evidence(item, story, min_entities, same_site, near_title, apart,
                                since_start, first_report)
    if found is None and first_report and story_start is not None:
        return _recap_evidence(item, story, story_start, since_start, recap_days)
    return found


def _close_evidence(item: EventSignature, story: EventSignature, min_entities: int,
                    same_site: bool, near_title: bool, apart: timedelta,
                    since_start: timedelta, first_report: bool) -> Evidence | None:
    entities, numbers = item.shared(story)
    codes = sorted(v for u, v in numbers if u == "code")
    if codes:
        return Evidence(100, f"same event: stock code {codes[0]} within 48 hours", True)
    if len(entities) < min_entities or not numbers:
        return _wordless_evidence(item, story, entities, apart, since_start, same_site,
                                  near_title)
    in_titles = item.title_numbers & story.title_numbers
    headlined = numbers & (item.title_numbers | story.title_numbers)
    if not in_titles and (since_start > EVENT_BODY_WINDOW or not first_report
                          or len(numbers) < (2 if headlined else 3)):
        return _wordless_evidence(item, story, entities, apart, since_start, same_site,
                                  near_title)
    where = "both headlines" if in_titles else "headline or lede"
    shown = ", ".join(_show(unit, value) for unit, value in sorted(in_titles or numbers))
    hours = 48 if in_titles else int(EVENT_BODY_WINDOW.total_seconds() // 3600)
    return Evidence(len(entities) + 2 * len(numbers) + 10 * len(in_titles),
                     f"same event: {', '.join(sorted(entities))}; {shown} in {where}; "
                     f"within {hours} hours", bool(in_titles))


def _wordless_evidence(item: EventSignature, story: EventSignature, entities: frozenset[str],
                       apart: timedelta, since_start: timedelta, same_site: bool,
                       near_title: bool) -> Evidence | None:
    """An event told without key numbers, when headlines share no words (another language):

    - one publisher's releases in two languages: the same site, within
      :data:`SIBLING_WINDOW`, one headline Chinese and one not, two dossier entities shared;
    - headlines telling the same act (agree, sign, launch, file, visit, meet, extend,
      conclude...) and no other, with the same parties: a named party beyond the dossier's
      topic (a company, a person, a body) within :data:`EVENT_WINDOW`, or three entities
      within :data:`EVENT_BODY_WINDOW` of the story's first report (a day's news, not the
      next day's act of one kind).
      Not for a headline in the story's language that nearly matches its title
      (``near_title``): whether that is a copy is for the title thresholds to say.
    """
    if len(entities) < EVENT_MIN_ENTITIES or item.conflicts(story, anywhere=True):
        return None
    names = ", ".join(sorted(entities))
    if same_site and item.cjk != story.cjk and apart <= SIBLING_WINDOW:
        minutes = int(SIBLING_WINDOW.total_seconds() // 60)
        return Evidence(50 + len(entities),
                         f"same event: one publisher's release in two languages within "
                         f"{minutes} minutes; {names}", True)
    if near_title and item.cjk == story.cjk:
        return None
    distinctive = item.distinctive & story.distinctive
    same_act = bool(item.actions) and item.actions == story.actions
    hours = int(EVENT_BODY_WINDOW.total_seconds() // 3600)
    if same_act and distinctive:
        return Evidence(20 + len(entities),
                         f"same event: same act and {', '.join(sorted(distinctive))}; "
                         f"{names}; within 48 hours", True)
    if len(distinctive) >= 2 and since_start <= EVENT_BODY_WINDOW \
            and not (item.actions and story.actions and not same_act):
        return Evidence(15 + len(entities),
                         f"same event: {', '.join(sorted(distinctive))} together; {names}; "
                         f"within {hours} hours", True)
    if same_act and len(entities) >= 3 and since_start <= EVENT_BODY_WINDOW:
        return Evidence(10 + len(entities),
                         f"same event: same act; {names}; within {hours} hours", False)
    return None


def _recap_evidence(item: EventSignature, story: EventSignature, story_start: datetime,
                    since_start: timedelta,
                    recap_days: frozenset[str] | None = None) -> Evidence | None:
    """A later recap of the event (a weekly newsletter, a client alert): it dates what it tells
    to the day the story broke, within :data:`EVENT_RECAP_WINDOW` of the story's first report,
    or to a date that report gives ("effective May 14") within :data:`EVENT_WINDOW` (later, that
    date is news of its own: the cut taking effect), and names a party of the story beyond the
    dossier's topic; no number or act of its own disagrees."""
    if since_start > EVENT_RECAP_WINDOW or not item.dates_named:  # no date: nothing recapped
        return None
    distinctive = item.distinctive & story.distinctive
    entities = item.entities & story.entities
    if not distinctive or len(entities) < EVENT_MIN_ENTITIES \
            or item.actions and story.actions and not item.actions & story.actions \
            or item.conflicts(story, anywhere=True):
        return None
    broke = recap_days if recap_days is not None else days_around(story_start)
    dated = sorted(item.key_dates & broke
                   | (item.dates_named & story.key_dates if since_start <= EVENT_WINDOW
                      else frozenset()))
    if not dated:
        return None
    month, day = dated[0].split("-")
    days = EVENT_RECAP_WINDOW.days
    return Evidence(5 + len(entities),
                     f"same event, recapped: dated {int(day)}/{int(month)} as the story is; "
                     f"{', '.join(sorted(entities))}; within {days} days", False)


def days_around(started: datetime) -> frozenset[str]:
    """The days ("MM-DD") a recap may date a story to: the day it broke, and one either side
    (the dates a write-up names carry no zone)."""
    return frozenset((started + timedelta(days=d)).strftime("%m-%d") for d in (-1, 0, 1))


def _show(unit: str, value: str) -> str:
    if unit in ("HK$", "US$", "RMB"):
        return f"{unit}{value}"
    return value if unit in ("", "date") else f"{value} {unit}"
