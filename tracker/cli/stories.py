"""Commands on story identity: analysts merge two stories into one, or split an item out."""

from __future__ import annotations

import click

from tracker.cli import Context, main, pass_ctx


@main.group("stories")
def stories() -> None:
    """Correct which items are one story (events in the log; later ingests respect them).

    Stories are named by id or a unique prefix of at least 6 characters (`tracker news`);
    `tracker news --explain STORY` shows why a story holds its items.

    \b
    Examples:
        tracker stories merge st-451173ef st-cdb15add --note "English and Chinese reports"
        tracker stories split st-b9f24a9a guid:hbd-2025-06-18-0233
    """


@stories.command("merge")
@click.argument("story")
@click.argument("merged")
@click.option("--note", help="Why (kept with the merge).")
@pass_ctx
def merge(ctx: Context, story: str, merged: str, note: str | None) -> None:
    """Merge story MERGED into STORY: its items join STORY, and later items that would have
    matched MERGED join STORY.

    \b
    Example:
        tracker stories merge st-451173ef st-cdb15add --note "English and Chinese reports"
    """
    from tracker import story_identity  # imported when used: `tracker --help` stays fast

    done = story_identity.merge(ctx.tracker, story, merged, note)
    click.echo(f"merged story {done.other_id} into {done.story_id} "
               f"at position {done.event.position}")


@stories.command("split")
@click.argument("story")
@click.argument("item")
@click.option("--note", help="Why (kept with the split).")
@pass_ctx
def split(ctx: Context, story: str, item: str, note: str | None) -> None:
    """Take ITEM out of STORY into a story of its own; ingest never matches it back.

    ITEM is the item's key (as `tracker news --explain STORY` shows it), a unique prefix of
    it, or its link.

    \b
    Example:
        tracker stories split st-b9f24a9a guid:hbd-2025-06-18-0233 --note "a different listing"
    """
    from tracker import story_identity  # imported when used: `tracker --help` stays fast

    done = story_identity.split(ctx.tracker, story, item, note)
    click.echo(f"split item out of story {done.story_id} into {done.other_id} "
               f"at position {done.event.position}")
