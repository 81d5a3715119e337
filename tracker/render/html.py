"""The report site as files: HTML pages from Jinja2 templates, and the accepted changes as Atom.

Everything from a feed is text: templates autoescape every value (in the Atom feed too), no
HTML from the record is kept, and a link is written only for an http(s) URL, so nothing a feed
carried can run or load. Each page also carries a Content-Security-Policy that lets nothing
load or run but its own inline styles (the chart is inline SVG). Pure: the site value from
``tracker.report_site.gather`` in, ``{relative path: bytes}`` out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from hashlib import sha256
from typing import Any, Final
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from tracker.events import deterministic_id
from tracker.render import claims, facts
from tracker.render.svg import timeline_svg

#: Nothing loads (scripts, fonts, frames, fetches, external styles or images) and nothing runs;
#: the page's own ``<style>`` and style attributes apply, and ``data:`` images would show.
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: Stories listed per page of the story index, and per dossier on the front page.
STORIES_PER_PAGE: Final = 500
LATEST_STORIES: Final = 30
_PAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Characters XML 1.0 cannot hold (and HTML has no use for).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACE_OR_CONTROL = re.compile("[\x00-\x20\x7f]")
_STATE_WORDS: Final = {"conflict": "disputed", "pending": "pending", "rejected": "rejected",
                       "accepted": "accepted"}


def safe_url(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL a reader may follow, else None (shown as
    text, never a link): no ``javascript:``, ``data:`` or relative link from a feed."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text or len(text) > 2048 or _SPACE_OR_CONTROL.search(text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return text


def page_name(story_id: Any) -> str:
    """The file a story's page is written to: its id when that is a plain file name, else a
    digest of it (an id from the log never becomes a path of its own choosing)."""
    text = str(story_id)
    if _PAGE_NAME.fullmatch(text) and ".." not in text:
        return f"{text}.html"
    return f"s-{sha256(text.encode('utf-8')).hexdigest()[:20]}.html"


def _clean(value: Any) -> Any:
    """Every value the feed writes: characters XML cannot hold dropped, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _ILLEGAL.sub("", value)
    return value


def _shown(value: Any) -> Any:
    """Every value a page writes: None as nothing (HTML tolerates the rest as text)."""
    return "" if value is None else value


def _fact_value(fact: Mapping[str, Any]) -> str:
    """A status fact's value as `tracker status` writes it (a claim slot's with its date)."""
    return claims.settled_value(fact) if "as_of" in fact else facts.fact_text(fact)


def _claim_word(claim: Mapping[str, Any]) -> str:
    if claim.get("agrees"):
        return "supports"
    if claim.get("state") == "accepted" and not claim.get("current"):
        return "accepted earlier"
    return _STATE_WORDS.get(str(claim.get("state")), str(claim.get("state")))


def _change_title(change: Mapping[str, Any]) -> str:
    key = str(change["key"])
    if change["kind"] == "status":
        return f"status: {claims.value_text(change['value'])}"
    if ":" in key and "." not in key:  # a claim slot: firms_served, tariff:us:china
        return f"{key}: {claims.value_text(change['value'])}"
    return f"{facts.label(key)}: {facts.describe(key, change['value'])}"


@cache
def environment(xml: bool = False) -> Environment:
    """The templates, compiled once per process (a story page is then only a render);
    ``xml``: for the feed, where every value is also cleared of what XML cannot hold."""
    env = Environment(loader=PackageLoader("tracker.render", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      finalize=_clean if xml else _shown, auto_reload=False)
    env.filters.update({
        "safe_url": safe_url, "page_name": page_name, "label": facts.label,
        "fact_value": _fact_value, "dating": facts.dating, "brief": claims.brief,
        "value_text": claims.value_text, "claim_word": _claim_word,
        "published": facts.published_label, "milestone": facts.milestone_line,
        "recorded": facts.recorded,
        "change_title": _change_title, "describe": facts.describe,
    })
    env.globals.update({"csp": CSP})
    if not xml:  # the head every page shares, written once (a page is then only its body)
        env.globals["head"] = Markup(env.get_template("head.html.j2").render().strip())
    return env


def _template(name: str) -> Template:
    return environment(name.endswith(".xml.j2")).get_template(name)


def render_site(site: Mapping[str, Any]) -> dict[str, bytes]:
    """Every file of the site: ``index.html``, ``stories/<id>.html`` and the story index
    pages, ``changes.xml``."""
    stories: Sequence[Mapping[str, Any]] = site.get("stories") or ()
    by_id = {s["id"]: s for s in stories}
    view = facts.header(site)
    pages = max(1, -(-len(stories) // STORIES_PER_PAGE))
    files: dict[str, bytes] = {}
    index = _template("index.html.j2").render(
        site=site, view=view, by_id=by_id, latest=LATEST_STORIES, story_count=len(stories),
        charts={p["id"]: timeline_svg(p["chart"], f"Timeline of {p.get('title') or p['id']}")
                for p in site.get("policies") or ()})
    files["index.html"] = index.encode("utf-8")
    story_page = _template("story.html.j2")
    for story in stories:
        files[f"stories/{page_name(story['id'])}"] = story_page.render(
            story=story, view=view).encode("utf-8")
    listing = _template("stories.html.j2")
    for n in range(pages):
        chunk = stories[n * STORIES_PER_PAGE:(n + 1) * STORIES_PER_PAGE]
        files[f"stories/{listing_name(n + 1)}"] = listing.render(
            stories=chunk, page=n + 1, pages=pages, total=len(stories), view=view,
            listing_name=listing_name).encode("utf-8")
    files["changes.xml"] = atom(site).encode("utf-8")
    return files


def listing_name(page: int) -> str:
    return "index.html" if page == 1 else f"index-{page}.html"


def atom(site: Mapping[str, Any]) -> str:
    """The accepted changes as an Atom feed, newest first; each entry's id is derived from the
    log (a position or a claim id), so it is the same on every run."""
    changes = list(site.get("changes") or ())
    times = [c["recorded_at"] for c in changes if c.get("recorded_at")]
    scope = site.get("policy") or "all"
    return _template("changes.xml.j2").render(
        changes=changes, updated=max(times) if times else "1970-01-01T00:00:00Z",
        feed_id=f"urn:uuid:{deterministic_id('tracker-report-feed', str(scope))}",
        view=facts.header(site), site=site)
