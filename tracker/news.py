"""Follow-up news: the stories report, and why a story holds what it holds."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tracker.app import Tracker
from tracker.catalogue import STORY_CORRECTION_TYPES, STORY_MERGED
from tracker.dates import iso, read_instant, utc
from tracker.dossier import labelled, projector
from tracker.events import canonical_json
from tracker.lookup import short_ids
from tracker.projections.base import Doc
from tracker.projections.stories import Stories, combined
from tracker.projector import load_docs_by_key, load_sort_keys
from tracker.story_explain import explain_report
from tracker.story_identity import STORY_PREFIX, find_story, kept_story, story_docs
from tracker.when import When

STORIES = Stories()


def news(tracker: Tracker, *, since: When | None = None, limit: int | None = None,
         feed: str | None = None, policy: str | None = None,
         until: When | None = None) -> dict[str, Any]:
    """Stories by publication date (the feed's, else when first seen), newest first, each with
    every source that carried it and its facts: those published from ``since`` on, carried by
    ``feed``, about ``policy``; the first ``limit`` of them (None: all). ``total`` counts every
    story that matched, so a reader knows what the limit left out; ``short_id`` is the
    shortest prefix of a story's id that names it alone (what `tracker stories` takes).
    ``since`` counts from the start of its period, ``until`` to its end, in the user's zone (a
    story published at 07:00 on a Saturday in Hong Kong is a Saturday story there)."""
    newest = limit if feed is None and policy is None else None
    counted: int | None = None
    if since is None and until is None and newest is None:
        all_docs = story_docs(tracker)
        ids: Iterable[str] = all_docs
    else:
        ids, all_docs, counted = _needed_docs(tracker, since, until, newest)
    shown = combined(all_docs)  # analysts' merges and splits applied
    ordered = sorted((STORIES.sort_key(key, doc), doc) for key, doc in shown.items())
    docs = [doc for _sort_key, doc in reversed(ordered) if _published_within(doc, since, until)]
    if feed is not None:
        docs = [d for d in docs if any(s.get("feed") == feed for s in d.get("sources", []))]
    if policy is not None:
        docs = [d for d in docs if policy in _policies(d)]
    total = len(docs) if counted is None else counted
    docs = docs if limit is None else docs[:limit]
    short = _short_ids(ids, [str(d.get("story_id")) for d in docs])
    stories = [{
        "id": d.get("story_id"), "short_id": short.get(str(d.get("story_id")),
                                                       d.get("story_id")),
        "title": d.get("title"), "url": d.get("url"),
        "published": d.get("published"),
        "published_source": d.get("published_source") or "feed", "score": d.get("score"),
        "policies": _policies(d),
        "matched": d.get("matched", []),
        "sources": [{"feed": s.get("feed"), "link": s.get("link"), "title": s.get("title"),
                     "position": s.get("position")} for s in d.get("sources", [])],
        "facts": distinct_facts(d.get("facts", [])), "revisions": len(d.get("revisions", [])),
        "position": d.get("position"),
    } for d in docs]
    report = {"since": iso(since.start) if since else None,
              "until": iso(until.before) if until else None, "feed": feed, "policy": policy,
              "limit": limit, "count": len(stories), "total": total, "stories": stories}
    return labelled(report, since=since.as_lower() if since else None, until=until)


def _short_ids(ids: Iterable[str], wanted: Sequence[str]) -> dict[str, str]:
    """:func:`short_ids` of ``wanted`` among ``ids``: an id's short form depends only on its
    neighbours in sorted order, so only they are compared, not every pair of the log's."""
    ordered = sorted(set(ids))
    near: set[str] = set()
    for story_id in wanted:
        at = bisect_left(ordered, story_id)
        near.update(ordered[max(at - 1, 0):at + 2])
    return short_ids(near, id_prefix=STORY_PREFIX)


def _corrected(tracker: Tracker) -> set[str]:
    """Every story :func:`combined` can move content from into another: each merged story
    (``merged_into``) and each story an item was split from (``split``), named by the log's
    few correction events rather than found by searching every story's document."""
    return {str(event.data["merged_id"] if event.type == STORY_MERGED else event.data["story_id"])
            for event in tracker.store.read(types=sorted(STORY_CORRECTION_TYPES))}


def _needed_docs(tracker: Tracker, since: When | None, until: When | None,
                 newest: int | None) -> tuple[list[str], dict[str, Doc], int | None]:
    """Every story's id, and the documents :func:`combined` needs to show the stories published
    within the window (picked by the date each row's sort key starts with, the same text as
    its ``published``), and every story a merge or split may move content from; in the order
    :func:`story_docs` gives, so merges and splits apply in the same order. With no window
    and ``newest`` (no filter either), only the ``newest`` latest stories not merged away,
    and how many stories there are to show in all."""
    projector(tracker).catch_up(["stories"])
    rows = load_sort_keys(tracker.engine, "stories")
    counted: int | None = None
    if since is None and until is None and newest is not None:
        loaded = load_docs_by_key(tracker.engine, "stories", _corrected(tracker))
        merged = {key for key, doc in loaded.items() if doc.get("merged_into")}
        latest = [key for _s, key in sorted(((s, k) for k, s in rows), reverse=True)
                  if key not in merged][:newest]
        loaded.update(load_docs_by_key(tracker.engine, "stories", latest))
        counted = len(rows) - len(merged)
    else:
        within = [key for key, sort_key in rows
                  if not sort_key.endswith(f"|{key}") or _published_text_within(
                      sort_key[:len(sort_key) - len(key) - 1], since, until)]
        loaded = load_docs_by_key(tracker.engine, "stories", {*within, *_corrected(tracker)})
    return ([key for key, _sort_key in rows],
            {key: loaded[key] for key, _s in rows if key in loaded}, counted)


def _published_within(doc: Mapping[str, Any], since: When | None, until: When | None) -> bool:
    """Whether a story was published from the start of ``since`` to the end of ``until``."""
    return _published_text_within(str(doc.get("published") or ""), since, until)


def _published_text_within(text: str, since: When | None, until: When | None) -> bool:
    """``_published_within`` of a story's ``published`` text (as its sort key starts)."""
    if since is None and until is None:
        return True
    try:
        published = utc(read_instant(text))
    except ValueError:  # no date at all: nothing places it within a window
        return False
    return (since is None or published >= since.start) and \
        (until is None or published < until.before)


def _policies(doc: Mapping[str, Any]) -> list[str]:
    return list(doc.get("policy_ids") or ([doc["policy_id"]] if doc.get("policy_id") else []))


def distinct_facts(facts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A story's facts once each: every source that carried the story states its own copy
    (so claims can count their sources), the story lists what was said."""
    seen: set[str] = set()
    out = []
    for fact in facts:
        key = canonical_json([fact.get("kind"), fact.get("value")])
        if key not in seen:
            seen.add(key)
            out.append(fact)
    return out


def explain(tracker: Tracker, story: str) -> dict[str, Any]:
    """Why one story (id or unique prefix) holds what it holds: every item that carried it,
    with how it joined and its relevance decisions, and the analysts' merges and splits."""
    docs = story_docs(tracker)
    asked = find_story(docs, story)
    return explain_report(tracker, docs, kept_story(docs, asked), asked)
