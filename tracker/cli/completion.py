"""Shell completion callbacks that read the database: feed names for ``--feed`` and feed-name
arguments (``eval "$(_TRACKER_COMPLETE=bash_source tracker)"``, README)."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem


def feed_names(ctx: click.Context, param: click.Parameter,
               incomplete: str) -> list[CompletionItem]:
    """The feeds followed whose names start with ``incomplete``, each with its URL as help.

    Reads the database the command line names (``--database-url``, ``--config``, the
    environment, the config file), never creating one; anything going wrong completes
    nothing rather than printing into the user's shell.
    """
    try:
        from tracker import feeds
        from tracker import settings as settings_file
        from tracker.app import open_tracker
        from tracker.config import sqlite_file

        params = ctx.find_root().params
        settings = settings_file.load(params.get("config_opt"),
                                      flags={"database_url": params.get("database_url_opt")})
        url = settings.database_url()
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            return []
        tracker = open_tracker(url)
        try:
            subs = feeds.subscriptions(tracker)
        finally:
            tracker.close()
    except Exception:  # noqa: BLE001  (completion must never fail in the user's shell)
        return []
    return [CompletionItem(name, help=sub.url) for name, sub in sorted(subs.items())
            if name.startswith(incomplete)]
