"""The event catalogue: every event type tracker records, its fields and its schema version.

This is the one place event types are defined. ``tracker catalogue`` prints it, docs/events.md is
generated from it, and the store's readers lift old schema versions through ``upcast`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# -- event type names: the one spelling of each, used everywhere else --------------------------

POLICY_TRACKED: Final = "policy.tracked"
POLICY_STATUS_CHANGED: Final = "policy.status_changed"
POLICY_FACT_ASSERTED: Final = "policy.fact_asserted"
POLICY_PARTY_ADDED: Final = "policy.party_added"
ACTOR_IDENTIFIED: Final = "actor.identified"
MILESTONE_RECORDED: Final = "milestone.recorded"
AGREEMENT_SIGNED: Final = "agreement.signed"
CONTEXT_RECORDED: Final = "context.recorded"
COMMENTARY_RECORDED: Final = "commentary.recorded"
QUESTION_OPENED: Final = "question.opened"
QUESTION_RESOLVED: Final = "question.resolved"
OUTCOME_EXPECTED: Final = "outcome.expected"
RETRACTED: Final = "event.retracted"
FEED_SUBSCRIBED: Final = "feed.subscribed"
FEED_CHANGED: Final = "feed.changed"
FEED_UNSUBSCRIBED: Final = "feed.unsubscribed"
FEED_FAILED: Final = "feed.failed"
FEED_RECOVERED: Final = "feed.recovered"
PUBLISHER_RATED: Final = "publisher.rated"
ITEM_RECORDED: Final = "item.recorded"
ITEM_REVISED: Final = "item.revised"
ITEM_CLASSIFIED: Final = "item.classified"
STORY_CREATED: Final = "story.created"
STORY_CORROBORATED: Final = "story.corroborated"
STORY_REVISED: Final = "story.revised"
STORY_MERGED: Final = "story.merged"
STORY_SPLIT: Final = "story.split"
FACT_EXTRACTED: Final = "fact.extracted"
CLAIM_ACCEPTED: Final = "claim.accepted"
CLAIM_REJECTED: Final = "claim.rejected"
ACCEPTANCE_POLICY_SET: Final = "acceptance.policy_set"
RULES_SET: Final = "rules.set"
ALERT_CHANNEL_ADDED: Final = "alert.channel_added"
ALERT_CHANNEL_REMOVED: Final = "alert.channel_removed"
ALERT_DELIVERED: Final = "alert.delivered"
ALERT_FAILED: Final = "alert.failed"
ALERT_CHECKPOINT: Final = "alert.checkpoint"


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    summary: str
    fields: Mapping[str, str]
    required: tuple[str, ...] = ()
    #: ``{from_version: function}``: lifts data stored at ``from_version`` to ``from_version + 1``.
    upcasters: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]] = field(
        default_factory=dict)


STATUSES = ("proposed", "announced", "in_force", "amended", "suspended", "ended", "uncertain")
STANCES = ("supportive", "positive", "neutral", "mixed", "sceptical", "critical")

_P = {"policy_id": "id of the tracked policy (slug)"}


def _tariff_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 context events carried a bare ``rate`` string such as "145%"; v2 has ``value`` + unit."""
    data = dict(data)
    rate = data.pop("rate", None)
    if rate is not None and "value" not in data:
        text = str(rate).strip().rstrip("%").strip()
        try:
            data["value"] = float(text) if "." in text else int(text)
            data["unit"] = "percent"
        except ValueError:
            data["value"] = rate
    return data


def _fact_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 facts predate claims: they state no slot, so they never set the state."""
    return {**data, "claim_id": None}


_TYPES: tuple[EventType, ...] = (
    # -- the dossier -------------------------------------------------------------------------
    EventType(POLICY_TRACKED, 1, "A policy enters the dossier.",
              {**_P, "title": "short title", "summary": "one-paragraph paraphrase",
               "jurisdictions": "list of places it applies to",
               "timezone": "optional IANA time zone (Asia/Hong_Kong) its dates and times are "
                           "read and shown in unless the user sets one (--tz, TRACKER_TZ)"},
              ("policy_id", "title")),
    EventType(POLICY_STATUS_CHANGED, 1, "The policy's lifecycle status moved.",
              {**_P, "status": "one of " + ", ".join(STATUSES), "note": "why, in a phrase",
               "slot": "the claim slot it fills: lifecycle (seeds name it)"},
              ("policy_id", "status")),
    EventType(POLICY_FACT_ASSERTED, 1,
              "A keyed fact about the policy (purpose, venue, dates, sectors...); "
              "a later assertion of the same key supersedes the earlier one.",
              {**_P, "key": "fact key, e.g. purpose, announced_at, sectors",
               "value": "JSON value", "note": "qualifier, e.g. 'late April'"},
              ("policy_id", "key", "value")),
    EventType(POLICY_PARTY_ADDED, 1, "A government, body or firm implements the policy.",
              {**_P, "actor_id": "actor id", "role": "its role in the policy"},
              ("policy_id", "actor_id")),
    EventType(ACTOR_IDENTIFIED, 1, "A person or organisation that appears in the record.",
              {"actor_id": "slug", "name": "display name",
               "kind": "person | government | organisation | company | media",
               "description": "who they are", "affiliation": "actor id of employer, if any",
               "aliases": "other names, any language",
               "members": "actor ids of a group's members"},
              ("actor_id", "name", "kind")),
    EventType(MILESTONE_RECORDED, 1,
              "A dated happening: a visit, a forum, a meeting, a tour, an agreement reached "
              "(agreed, not a signed document: signed deals are agreement.signed).",
              {**_P, "milestone_id": "slug",
               "kind": "visit | forum | meeting | tour | agreement | other",
               "title": "short title", "summary": "paraphrase", "actor_ids": "who took part",
               "location": "where", "duration_days": "length, when known",
               "count": "how many (e.g. facilities toured)", "led_by": "actor id of who led it"},
              ("policy_id", "milestone_id", "title")),
    EventType(AGREEMENT_SIGNED, 1, "Agreements signed, with how many projects and sectors.",
              {**_P, "agreement_id": "slug", "title": "short title",
               "project_count": "number of projects",
               "count_qualifier": "exactly | more_than | about | at_least",
               "sectors": "list of sectors", "actor_ids": "signatories",
               "slot": "the claim slot its count fills: projects_signed (seeds name it)"},
              ("policy_id", "agreement_id", "title")),
    EventType(CONTEXT_RECORDED, 2,
              "A context thread the policy responds to: tariffs, export controls, trade status.",
              {**_P, "thread": "tariffs | export_controls | trade_status | capital_flows | other",
               "measure_id": "slug (a later event with the same id updates it)",
               "title": "short title", "summary": "paraphrase",
               "value": "number (e.g. a tariff rate), if any", "unit": "percent, ...",
               "qualifier": "up_to | at_least | more_than | about | exactly",
               "imposer": "who imposes it", "target": "on whom", "affected": "who is hit",
               "since": "ISO date or year it dates from",
               "slot": "the claim slot it fills (tariff:us:china, export_control:us:china...), "
                       "so news claims on that slot supersede it"},
              ("policy_id", "thread", "measure_id", "title"),
              upcasters={1: _tariff_v1_to_v2}),
    EventType(COMMENTARY_RECORDED, 1, "Someone's view of the policy, with their stance.",
              {**_P, "commentary_id": "slug", "actor_id": "who said it",
               "stance": "one of " + ", ".join(STANCES), "summary": "paraphrase",
               "quote": "a short attributed quote, if any", "via": "publication reporting it"},
              ("policy_id", "commentary_id", "actor_id", "stance", "summary")),
    EventType(QUESTION_OPENED, 1, "Something the record does not yet know.",
              {**_P, "question_id": "slug", "text": "the question"},
              ("policy_id", "question_id", "text")),
    EventType(QUESTION_RESOLVED, 1, "An open question answered.",
              {**_P, "question_id": "slug", "answer": "the answer"},
              ("policy_id", "question_id", "answer")),
    EventType(OUTCOME_EXPECTED, 1, "An outcome the policy is expected to bring.",
              {**_P, "outcome_id": "slug", "text": "the outcome", "actor_ids": "who expects it"},
              ("policy_id", "outcome_id", "text")),
    # -- corrections -------------------------------------------------------------------------
    EventType(RETRACTED, 1,
              "An earlier event is withdrawn; projections drop what it set. "
              "A correction is a retraction plus a replacement event whose meta.corrects names it.",
              {"target_position": "position of the retracted event",
               "target_event_id": "its event id", "reason": "why"},
              ("target_position", "reason")),
    # -- feeds -------------------------------------------------------------------------------
    EventType(FEED_SUBSCRIBED, 1, "A feed is followed.",
              {"name": "feed name (unique)", "url": "http(s) URL or, when allowed, a local path",
               "every_seconds": "polling interval", "tags": "list of tags",
               "allow_local": "true when a local file was explicitly allowed",
               "allow_private": "true when internal network addresses were explicitly "
                                "allowed (--allow-private; absent: false)",
               "publisher": "who publishes it (absent: the feed name)",
               "tier": "the publisher's tier as this feed gives it: official, wire, press, "
                       "aggregator or unrated (absent: unrated)"},
              ("name", "url", "every_seconds")),
    EventType(FEED_CHANGED, 1, "A subscription's URL, interval, tags, publisher or tier changed.",
              {"name": "feed name", "url": "new URL", "every_seconds": "new interval",
               "tags": "new tags",
               "reason": "why, when not the user (e.g. permanent redirect)",
               "allow_private": "true when internal network addresses became allowed "
                                "(absent: unchanged)",
               "publisher": "its publisher, written whenever the publisher or tier changes",
               "tier": "its tier, written whenever the publisher or tier changes",
               "previous_publisher": "the publisher it leaves, when the publisher changed"},
              ("name",)),
    EventType(FEED_UNSUBSCRIBED, 1, "A feed is no longer followed.",
              {"name": "feed name", "publisher": "its publisher (absent: the feed name)"},
              ("name",)),
    EventType(FEED_FAILED, 1, "A fetch or parse failure worth reporting.",
              {"name": "feed name", "error": "one line", "consecutive_failures": "count"},
              ("name", "error")),
    EventType(FEED_RECOVERED, 1, "A feed fetched cleanly again after failures.",
              {"name": "feed name", "after_failures": "how many failures preceded"},
              ("name",)),
    EventType(PUBLISHER_RATED, 1,
              "An analyst sets a publisher's tier; it stands over the tier its feeds give.",
              {"publisher": "publisher name, as its feeds or seed sources name it",
               "tier": "official, wire, press, aggregator or unrated", "note": "why, optionally"},
              ("publisher", "tier")),
    # -- news --------------------------------------------------------------------------------
    EventType(ITEM_RECORDED, 1, "A feed item seen for the first time (sanitised, bounded).",
              {"feed": "feed name", "item_key": "guid:, link: or hash: identity",
               "title": "text", "link": "canonical http(s) link or null",
               "published": "ISO timestamp, or null when the feed gave no usable date",
               "published_source": "feed, or first_seen when the feed gave no usable date "
                                   "(then occurred_at is when it was first seen; earlier "
                                   "builds wrote fetch_time and the fetch time as published)",
               "date_flags": "list: missing, unreadable (or an offset beyond ±14:00), "
                             "future, epoch", "summary": "text",
               "truncated": "true when the feed gave only the start of the text (a teaser, "
                            "or a body cut off mid-item)",
               "author": "as the feed names it, if any",
               "content_hash": "sha256 of title+summary", "fetched_at": "ISO timestamp"},
              ("feed", "item_key", "title")),
    EventType(ITEM_REVISED, 1, "A recorded item's content changed at its source.",
              {"feed": "feed name", "item_key": "identity", "title": "text", "summary": "text",
               "content_hash": "new hash", "previous_hash": "old hash", "story_id": "its story",
               "truncated": "true when this text too is only the start (a fuller text "
                            "is never replaced by a cut-off one)"},
              ("item_key", "content_hash")),
    EventType(ITEM_CLASSIFIED, 1, "A relevance decision on an item for one dossier, "
              "explainable.",
              {"item_key": "identity", "feed": "feed name",
               "policy_id": "the dossier whose rules decided (absent before many dossiers)",
               "relevant": "bool",
               "score": "number",
               "threshold": "number", "matched": "list of matched terms",
               "rules_version": "version of the rules file",
               "content_hash": "the content classified",
               "reclassified": "true when recorded by `tracker reclassify`",
               "tier": "core | context when relevant (absent before tiers, null when not)"},
              ("item_key", "relevant", "score", "rules_version")),
    EventType(STORY_CREATED, 1, "A new story, from its first relevant item.",
              {"story_id": "id", "title": "text", "url": "link",
               "published": "ISO timestamp: the first item's date, or when it was first seen",
               "published_source": "feed, or first_seen when the feed gave no usable date",
               "item_key": "first item", "feed": "first feed",
               "policy_ids": "every dossier whose rules its first item matched",
               "policy_id": "the one dossier it follows (before many dossiers)",
               "summary": "text of the first item", "score": "its relevance score",
               "matched": "its matched terms"},
              ("story_id", "title", "item_key")),
    EventType(STORY_CORROBORATED, 1, "Another item (feed or link) carries the same story.",
              {"story_id": "id", "item_key": "identity", "feed": "feed name", "link": "url",
               "title": "as that source titled it", "similarity": "0..1",
               "reason": "the evidence it joined on: same guid, same link, same article id, "
                         "or title similarity after normalisation",
               "published_source": "feed, or first_seen when its feed gave no usable date "
                                   "(then occurred_at is when it was first seen)",
               "policy_ids": "the dossiers whose rules this item matched (the story follows "
                             "them too; absent before this field was added)"},
              ("story_id", "item_key")),
    EventType(STORY_REVISED, 1, "A story's content changed (an item was revised).",
              {"story_id": "id", "item_key": "identity", "title": "text", "summary": "text"},
              ("story_id",)),
    EventType(STORY_MERGED, 1,
              "Two stories are one: an analyst says so, or ingest met an item tying two "
              "stories begun apart by strong evidence (meta `automatic`; the earlier story is "
              "kept). The merged story's items join the story (ingest matches them to it from "
              "now on).",
              {"story_id": "the story kept", "merged_id": "the story that joins it",
               "note": "why: the analyst's words, or the item and both ties' evidence"},
              ("story_id", "merged_id")),
    EventType(STORY_SPLIT, 1,
              "An analyst takes an item out of a story: it becomes a story of its own (ingest "
              "never matches it back).",
              {"story_id": "the story it leaves", "item_key": "the item",
               "new_story_id": "its own story", "feed": "its feed", "link": "its link",
               "title": "its title", "published": "ISO timestamp", "note": "why, optionally"},
              ("story_id", "item_key", "new_story_id")),
    EventType(FACT_EXTRACTED, 2,
              "A typed fact one source states in a story: a claim on a slot, for a world date "
              "(the event's occurred_at). One event per source, so corroboration is countable.",
              {"story_id": "id", "policy_id": "dossier", "kind":
               "tariff_rate | project_count | listing | export_control | mechanism_status",
               "value": "kind-specific object", "sentence": "the sentence it came from",
               "confidence": "0..1",
               "claim_id": "the claim it states (null: a fact no slot takes)",
               "slot": "the real-world quantity: lifecycle, firms_served, projects_signed, "
                       "tariff:IMPOSER:TARGET, export_control:IMPOSER:TARGET, listing:COMPANY",
               "claim_value": "the value claimed for the slot",
               "as_of_stated": "true when the text gives the date, false: publication day",
               "hedged": "true when the text hedges it (reportedly, sources say, 据悉...)",
               "hedge": "the hedging cue found", "publisher": "who published the source",
               "tier": "official | wire | press | aggregator | unrated, when recorded",
               "feed": "feed name", "item_key": "the item it came from", "link": "its link",
               "context": "true for a driver (tariffs, export controls), not the mechanism"},
              ("story_id", "kind", "value", "sentence", "confidence"),
              upcasters={1: _fact_v1_to_v2}),
    # -- decisions -----------------------------------------------------------------------------
    EventType(CLAIM_ACCEPTED, 1, "An analyst accepts a claim: it may now set the state.",
              {**_P, "claim_id": "the claim", "note": "why, optionally"},
              ("policy_id", "claim_id")),
    EventType(CLAIM_REJECTED, 1, "An analyst rejects a claim: it never sets the state.",
              {**_P, "claim_id": "the claim", "reason": "why"},
              ("policy_id", "claim_id", "reason")),
    EventType(ACCEPTANCE_POLICY_SET, 1,
              "The acceptance policy in force from now on (seeds/acceptance.toml): when a claim "
              "is accepted without an analyst.",
              {"version": "policy version", "authoritative_tier": "one source of this tier "
               "or better suffices", "corroborating_tier": "or several independent sources of "
               "this tier or better", "corroborating_sources": "how many"},
              ("version",)),
    EventType(RULES_SET, 1,
              "The relevance rules in force for a policy from now on: ingest and reclassify "
              "use them when no rules file is given.",
              {**_P, "version": "the rules' own version", "text": "the rules file (TOML)",
               "source": "the file it was read from"},
              ("policy_id", "version", "text")),
    # -- alerts (docs/alerts.md) ---------------------------------------------------------------
    EventType(ALERT_CHANNEL_ADDED, 1,
              "An alert channel: where changes of accepted state are delivered, from the "
              "position it was added at on (never the history before it).",
              {"name": "channel name (unique among channels in use)",
               "kind": "webhook | email | digest",
               "target": "the webhook URL, mailto:ADDRESS, or digest",
               "on": "the kinds of change it receives (status.changed, fact.accepted...)",
               "policy_id": "only this policy's changes (absent: every policy)",
               "secret_env": "the environment variable holding the webhook's signing secret "
                             "(the secret itself is never logged)",
               "allow_private": "true when internal network addresses were explicitly allowed",
               "min_score": "story.new only for stories scoring at least this",
               "since": "the log position it starts after: only later changes are sent"},
              ("name", "kind", "target", "since")),
    EventType(ALERT_CHANNEL_REMOVED, 1, "An alert channel is no longer delivered to.",
              {"name": "channel name", "channel_id": "event id of the channel's "
               "alert.channel_added"},
              ("name",)),
    EventType(ALERT_DELIVERED, 1,
              "A change reached a channel: recorded after the receiver accepted it, so each "
              "change is delivered once (a crash before this is recorded may send it again, "
              "with the same idempotency key).",
              {"name": "channel name", "channel_id": "event id of the channel's "
               "alert.channel_added", "change_id": "the change delivered",
               "kind": "its kind", "position": "the log position of the event that made it",
               "event_id": "that event's id",
               "idempotency_key": "the key the receiver saw (stable across resends)",
               "attempts": "attempts this run took", "response": "e.g. HTTP 200, 250 OK",
               "through": "every change for this channel up to this position is delivered"},
              ("name", "channel_id", "change_id", "idempotency_key")),
    EventType(ALERT_FAILED, 1,
              "A change could not be delivered after the retries of one run: it stays pending "
              "and the next run tries again.",
              {"name": "channel name", "channel_id": "event id of the channel's "
               "alert.channel_added", "change_id": "the change that failed",
               "position": "the log position of the event that made it",
               "idempotency_key": "its key", "error": "one line", "attempts": "attempts made",
               "pending": "how many changes wait for this channel"},
              ("name", "channel_id", "error")),
    EventType(ALERT_CHECKPOINT, 1,
              "Nothing was pending for a channel up to a position: later runs work out changes "
              "after it. Recorded only when a channel that receives little lags far behind the "
              "log, so that each run does not start over from where it began.",
              {"name": "channel name", "channel_id": "event id of the channel's "
               "alert.channel_added",
               "through": "every change for this channel up to this position is delivered"},
              ("name", "channel_id", "through")),
)

CATALOGUE: Mapping[str, EventType] = {t.name: t for t in _TYPES}


def story_policies(data: Mapping[str, Any]) -> list[str]:
    """The dossiers a ``story.created`` follows: its ``policy_ids``, or the one ``policy_id``
    of a story created before many dossiers."""
    ids = data.get("policy_ids")
    if ids is None:
        ids = [data["policy_id"]] if data.get("policy_id") else []
    return [str(i) for i in ids]

#: What the dossier says about a policy (seeded or added by hand), as opposed to actors,
#: feeds and news.
DOSSIER_TYPES: frozenset[str] = frozenset({
    POLICY_TRACKED, POLICY_STATUS_CHANGED, POLICY_FACT_ASSERTED, POLICY_PARTY_ADDED,
    MILESTONE_RECORDED, AGREEMENT_SIGNED, CONTEXT_RECORDED, COMMENTARY_RECORDED,
    QUESTION_OPENED, QUESTION_RESOLVED, OUTCOME_EXPECTED,
})
#: News events that move a policy's state: its follow-up stories and the facts found in them.
FOLLOW_UP_TYPES: frozenset[str] = frozenset({STORY_CREATED, FACT_EXTRACTED})
#: What decides claims: analysts' decisions (the policy in force is read beside them).
DECISION_TYPES: frozenset[str] = frozenset({CLAIM_ACCEPTED, CLAIM_REJECTED})
STORY_TYPES: frozenset[str] = frozenset({STORY_CREATED, STORY_CORROBORATED, STORY_REVISED,
                                         FACT_EXTRACTED})
#: Analysts' corrections of story identity: which stories are one, which item is its own.
STORY_CORRECTION_TYPES: frozenset[str] = frozenset({STORY_MERGED, STORY_SPLIT})
#: The events that make up the set of feed subscriptions.
SUBSCRIPTION_TYPES: frozenset[str] = frozenset({FEED_SUBSCRIBED, FEED_CHANGED, FEED_UNSUBSCRIBED})
#: What the log knows about each feed item: its content and its relevance decisions.
ITEM_TYPES: frozenset[str] = frozenset({ITEM_RECORDED, ITEM_REVISED, ITEM_CLASSIFIED})
#: Alert channels and what was delivered to them (tracker/alerts).
ALERT_TYPES: frozenset[str] = frozenset({ALERT_CHANNEL_ADDED, ALERT_CHANNEL_REMOVED,
                                         ALERT_DELIVERED, ALERT_FAILED, ALERT_CHECKPOINT})


class UnknownEventType(ValueError):
    pass


def spec(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownEventType(f"unknown event type {name!r}") from None


def missing_fields(name: str, data: Mapping[str, Any]) -> list[str]:
    return [f for f in spec(name).required if f not in data]


def upcast(name: str, version: int, data: Mapping[str, Any]) -> tuple[int, Mapping[str, Any]]:
    """Lift ``data`` stored at ``version`` to the current version of ``name``.

    Unknown types pass through unchanged, so a newer log can still be read by an older reader.
    """
    et = CATALOGUE.get(name)
    if et is None or version >= et.version:
        return version, data
    lifted = dict(data)
    while version < et.version:
        step = et.upcasters.get(version)
        if step is not None:
            lifted = step(lifted)
        version += 1
    return version, lifted


def types() -> Iterable[EventType]:
    return _TYPES


def render_markdown() -> str:
    lines = ["# Event catalogue", "",
             "Generated from `tracker/catalogue.py` (`tracker catalogue --format markdown`).", ""]
    for et in _TYPES:
        lines += [f"## `{et.name}` (v{et.version})", "", et.summary, "",
                  "| field | meaning | required |", "| --- | --- | --- |"]
        for fname, meaning in et.fields.items():
            lines.append(f"| `{fname}` | {meaning} | {'yes' if fname in et.required else ''} |")
        if et.upcasters:
            lines += ["", "Upcasters from: " + ", ".join(f"v{v}" for v in sorted(et.upcasters))]
        lines.append("")
    return "\n".join(lines)
