"""Where events live: the stream of a feed's items and of a story, and a new story's id.

Names only, so that readers of stories (the news report, `--explain`, merges and splits) need
none of the ingest machinery that writes them."""

from __future__ import annotations

import hashlib


def feed_stream(feed: str) -> str:
    return f"feed:{feed}"


def story_stream(story_id: str) -> str:
    return f"story:{story_id}"


def new_story_id(feed: str, key: str) -> str:
    """A story's id from the item that opened it: the same item always opens the same story."""
    return "st-" + hashlib.sha256(f"{feed}\x1f{key}".encode()).hexdigest()[:12]
