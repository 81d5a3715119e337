"""Which stories an item could match, found without weighing every story in the window.

:func:`~tracker.ingest.matching.find_story` weighs an item against each candidate it is
given; over a window of thousands of stories that was most of an ingest's time. A
:class:`StoryIndex` holds the window's candidates with an inverted index of what each could
match on (identity, title words and numbers, event signatures by day), so only the few an
item may match are weighed, with the same outcome. It lives apart from the matching rules it
mirrors because it is a cache: it decides nothing, and a change to a rule in
:mod:`tracker.ingest.matching` or :mod:`tracker.ingest.event_evidence` must be checked
against the lookups here (tests/ingest/test_story_index.py compares the two).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from tracker.ingest.matching import HasTitle, StoryCandidate, item_keys, item_signature
from tracker.ingest.story_features import EventSignature, TitleFeatures, title_features, url_facts

__all__ = ["StoryIndex"]

_K = TypeVar("_K")
_V = TypeVar("_V")


#: A story's face (its first write-up, or a later headline) as the index holds it.
_Face = tuple[TitleFeatures, EventSignature, bool]
#: Close evidence needs the write-ups within EVENT_WINDOW (two days): faces are indexed by the
#: day they came out, and this many days either side are looked at (a day more for datetimes
#: in other zones).
_NEAR_DAYS = 3


def _add(postings: dict[_K, set[_V]], key: _K, value: _V) -> None:
    found = postings.get(key)
    if found is None:
        postings[key] = {value}
    else:
        found.add(value)


def _drop(postings: dict[_K, set[_V]], key: _K, value: _V) -> None:
    found = postings.get(key)
    if found is not None:
        found.discard(value)
        if not found:
            del postings[key]


def _union(postings: Mapping[_K, set[int]], keys: Iterable[_K]) -> set[int]:
    out: set[int] = set()
    for key in keys:
        found = postings.get(key)
        if found:
            out |= found
    return out


def _without_conflicts(fids: set[int], units: Mapping[str, frozenset[str]],
                       having_unit: Mapping[str, set[int]],
                       having_value: Mapping[tuple[str, str], set[int]]) -> set[int]:
    """``fids`` less the faces whose numbers conflict with ``units`` (:meth:`EventSignature.
    conflicts`: a unit both give, and no value of it in common)."""
    for unit, values in units.items():
        with_unit = having_unit.get(unit)
        if not with_unit or not fids:
            continue
        disagree = fids & with_unit
        if disagree:
            disagree -= _union(having_value, ((unit, value) for value in values))
            fids = fids - disagree
    return fids


class StoryIndex(MutableMapping[str, StoryCandidate]):
    """The candidates of a matching window (a mapping, in insertion order like a dict), with an
    inverted index of what each of their faces could match on, so that :meth:`likely` names
    the few an item may match instead of :func:`find_story` weighing every one.

    What is left out could give :func:`find_story` no evidence (at its default threshold, or
    any from :data:`SOURCE_THRESHOLD` up), by the rules that function applies:

    - identity: a shared guid, canonical link or article id (looked up);
    - title: a score of 0.75 needs a word or character in common and, when both titles give
      numbers, the same numbers (different ones cost 0.6 of the score);
    - event, close: a face within :data:`EVENT_WINDOW` whose headline numbers do not conflict;
    - event, recap: a story's first report sharing a party beyond the dossier's topic, whose
      numbers do not conflict anywhere, for an item that names a date.

    So :func:`find_story` over ``likely(item)`` gives what it gives over all of them, except
    the best similarity it reports when nothing matches. Assigning a story re-indexes it (a
    story grown by one write-up costs that write-up); :meth:`sync` brings the index to another
    mapping of stories, re-indexing only those that changed, so one index serves a whole pass.
    Not for use by two threads at once.
    """

    def __init__(self, stories: Mapping[str, StoryCandidate] | None = None) -> None:
        self._stories: dict[str, StoryCandidate] = {}
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._faces: dict[str, list[int]] = {}
        self._face: dict[int, tuple[str, _Face]] = {}
        self._next_fid = 0
        self._by_item_key: dict[str, set[str]] = {}
        self._by_story_id: dict[str, set[str]] = {}
        self._by_link: dict[str, set[str]] = {}
        self._by_article: dict[str, set[str]] = {}
        self._by_numbers: dict[frozenset[str], set[int]] = {}
        self._numberless_by_word: dict[str, set[int]] = {}
        self._by_word: dict[str, set[int]] = {}
        #: (day, the units its headline gives numbers in) -> faces; and (unit, value) -> faces
        self._by_day_units: dict[int, dict[frozenset[str], set[int]]] = {}
        self._by_title_value: dict[tuple[str, str], set[int]] = {}
        self._first_by_distinctive: dict[str, set[int]] = {}
        self._first_by_unit: dict[str, set[int]] = {}
        self._first_by_value: dict[tuple[str, str], set[int]] = {}
        if stories:
            self.sync(stories)

    # -- the mapping ---------------------------------------------------------------------

    def __getitem__(self, key: str) -> StoryCandidate:
        return self._stories[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stories)

    def __len__(self) -> int:
        return len(self._stories)

    def __contains__(self, key: object) -> bool:
        return key in self._stories

    def __setitem__(self, key: str, story: StoryCandidate) -> None:
        old = self._stories.get(key)
        if old is story:
            return
        if old is None:
            self._seq[key] = self._next_seq
            self._next_seq += 1
        self._index_identity(key, old, story)
        self._index_faces(key, old, story)
        self._stories[key] = story
        if old is None or old.story_id != story.story_id:
            if old is not None:
                _drop(self._by_story_id, old.story_id, key)
            _add(self._by_story_id, story.story_id, key)

    def __delitem__(self, key: str) -> None:
        old = self._stories.pop(key)
        self._index_identity(key, old, None)
        _drop(self._by_story_id, old.story_id, key)
        for fid in self._faces.pop(key, []):
            self._unindex_face(fid)
        del self._seq[key]

    def sync(self, stories: Mapping[str, StoryCandidate]) -> StoryIndex:
        """Make this index hold ``stories``, in their order, re-indexing only what changed."""
        for key in [key for key in self._stories if key not in stories]:
            del self[key]
        for key, story in stories.items():
            if self._stories.get(key) is not story:
                self[key] = story
        self._stories = {key: self._stories[key] for key in stories}
        self._seq = {key: n for n, key in enumerate(stories)}
        self._next_seq = len(stories)
        return self

    # -- lookups -------------------------------------------------------------------------

    def likely(self, item: HasTitle) -> list[StoryCandidate]:
        """The stories ``item`` may match, in this mapping's order (see the class)."""
        return [self._stories[key] for key in self.likely_keys(item)]

    def position(self, key: str) -> int:
        """Where ``key`` comes in this mapping's order (larger: later)."""
        return self._seq[key]

    def story_keys(self, story_id: str) -> list[str]:
        """The keys of the candidates of one story (its own, and those merged into it), in
        this mapping's order."""
        return sorted(self._by_story_id.get(story_id, ()), key=self._seq.__getitem__)

    def of_story(self, story_id: str) -> list[StoryCandidate]:
        """The candidates of one story, in this mapping's order."""
        return [self._stories[key] for key in self.story_keys(story_id)]

    def likely_keys(self, item: HasTitle) -> list[str]:
        """The keys of :meth:`likely`."""
        keys: set[str] = set()
        for item_key in item_keys(item):
            keys |= self._by_item_key.get(item_key, set())
        link, article, _site = url_facts(item.link)
        if link:
            keys |= self._by_link.get(link, set())
        if article:
            keys |= self._by_article.get(article, set())
        features = title_features(item.title)
        signature = item_signature(item)
        fids = self._title_faces(features)
        fids |= self._close_faces(signature, item.published.toordinal())
        if signature.dates_named and signature.distinctive:
            firsts = _union(self._first_by_distinctive, signature.distinctive)
            fids |= _without_conflicts(firsts, signature.units, self._first_by_unit,
                                       self._first_by_value)
        face = self._face
        keys.update(face[fid][0] for fid in fids)
        return sorted(keys, key=self._seq.__getitem__)

    def _close_faces(self, signature: EventSignature, day: int) -> set[int]:
        """Faces out within a few days of ``day`` whose headline numbers do not conflict with
        the item's: those whose headlines give no number in a unit the item's does, whole, and
        of the others those sharing a value in each unit both give."""
        units = signature.title_units
        days = range(day - _NEAR_DAYS, day + _NEAR_DAYS + 1)
        found: set[int] = set()
        for near in days:
            groups = self._by_day_units.get(near)
            if groups:
                for given, fids in groups.items():
                    if given.isdisjoint(units):
                        found |= fids
        if units:
            agreeing = _union(self._by_title_value,
                              ((unit, value) for unit, values in units.items()
                               for value in values))
            for fid in agreeing - found:
                other = self._face[fid][1][1]
                if other.published.toordinal() in days and not signature.conflicts(other):
                    found.add(fid)
        return found

    def _title_faces(self, features: TitleFeatures) -> set[int]:
        """Faces whose title may score 0.75 against ``features``."""
        if not features.text:
            return set()
        words = features.tokens | features.char_set
        if not features.numbers:
            return _union(self._by_word, words)
        return self._by_numbers.get(features.numbers, set()) \
            | _union(self._numberless_by_word, words)

    # -- indexing ------------------------------------------------------------------------

    def _index_identity(self, key: str, old: StoryCandidate | None,
                        new: StoryCandidate | None) -> None:
        empty: frozenset[str] = frozenset()
        for postings, before, after in (
                (self._by_item_key, old.item_keys if old else empty,
                 new.item_keys if new else empty),
                (self._by_link, old.prepared_links.links if old else empty,
                 new.prepared_links.links if new else empty),
                (self._by_article, old.prepared_links.article_ids if old else empty,
                 new.prepared_links.article_ids if new else empty)):
            if before is after:
                continue
            for gone in before - after:
                _drop(postings, gone, key)
            for came in after - before:
                _add(postings, came, key)

    def _index_faces(self, key: str, old: StoryCandidate | None, new: StoryCandidate) -> None:
        fids = self._faces.get(key, [])
        faces = new.prepared_faces
        kept = 0
        if old is not None:
            before = old.prepared_faces
            if len(before) <= len(faces) and all(
                    a[0] is b[0] and a[1] is b[1] for a, b in zip(before, faces, strict=False)):
                kept = len(before)  # grown by a write-up: its earlier faces stay indexed
            else:
                for fid in fids:
                    self._unindex_face(fid)
                fids = []
        for position in range(kept, len(faces)):
            title, signature = faces[position]
            fids.append(self._index_face(key, (title, signature, position == 0)))
        self._faces[key] = fids

    def _face_keys(self, face: _Face) -> Iterator[tuple[dict[Any, set[int]], Any]]:
        title, signature, first = face
        if title.text:
            yield self._by_numbers, title.numbers
            for word in title.tokens | title.char_set:
                yield self._by_word, word
                if not title.numbers:
                    yield self._numberless_by_word, word
        for unit, values in signature.title_units.items():
            for value in values:
                yield self._by_title_value, (unit, value)
        if first:
            for party in signature.distinctive:
                yield self._first_by_distinctive, party
            for unit, values in signature.units.items():
                yield self._first_by_unit, unit
                for value in values:
                    yield self._first_by_value, (unit, value)

    def _index_face(self, key: str, face: _Face) -> int:
        fid = self._next_fid
        self._next_fid += 1
        self._face[fid] = (key, face)
        for postings, posting_key in self._face_keys(face):
            _add(postings, posting_key, fid)
        signature = face[1]
        groups = self._by_day_units.setdefault(signature.published.toordinal(), {})
        _add(groups, frozenset(signature.title_units), fid)
        return fid

    def _unindex_face(self, fid: int) -> None:
        _key, face = self._face.pop(fid)
        for postings, posting_key in self._face_keys(face):
            _drop(postings, posting_key, fid)
        day = face[1].published.toordinal()
        groups = self._by_day_units[day]
        _drop(groups, frozenset(face[1].title_units), fid)
        if not groups:
            del self._by_day_units[day]
