"""`tracker report`: the dossiers as a static site to read in a browser, offline."""

from __future__ import annotations

import click

from tracker.cli import Context, main, pass_ctx
from tracker.render.words import plural


@main.command("report")
@click.option("--format", "fmt", type=click.Choice(["html"]), default="html",
              show_default=True, help="What to write (a static HTML site).")
@click.option("-o", "--output", "output", metavar="DIR", required=True,
              type=click.Path(file_okay=True, dir_okay=True, path_type=str),
              help="The directory to write (a new or empty one, or an earlier report, which "
                   "is replaced whole).")
@click.option("--policy", "policy_id", metavar="ID", help="Only this dossier.")
@click.option("--as-of", "as_of", metavar="WHEN",
              help="Log time: what the log knew by the end of WHEN.")
@click.option("--world-as-of", "--until", "world_as_of", metavar="WHEN",
              help="World time: what had happened in the world by the end of WHEN, as known "
                   "now.")
@pass_ctx
def report(ctx: Context, fmt: str, output: str, policy_id: str | None, as_of: str | None,
           world_as_of: str | None) -> None:
    """Write the dossiers as a static site: DIR/index.html, a page per story, and
    DIR/changes.xml (an Atom feed of accepted changes).

    Each dossier shows its status, its facts with their sources and tiers (disputed and
    pending claims highlighted), open questions, commentary, and a timeline chart (milestones,
    each context rate as a step line, stories per week). The pages load and run nothing: no
    scripts, fonts or styles from the network (a Content-Security-Policy forbids them), so
    they read the same from file:// offline. The site is written beside DIR and moved into
    place, so a re-run replaces it whole.

    \b
    Examples:
        tracker report -o report && xdg-open report/index.html
        tracker report --format html -o may --world-as-of 2025-05-31
        tracker report -o hkz --policy hk-zhejiang-supply-chain --as-of now
    """
    from tracker import report_publish, report_site  # imported when used: commands start faster
    from tracker.render import html

    with report_publish.collector_paused():
        site = report_site.gather(ctx.tracker, policy=policy_id, as_of=ctx.when(as_of),
                                  world_as_of=ctx.when(world_as_of))
        files = html.render_site(site)
    target = report_publish.publish(files, output)
    pages = len(site["stories"])
    click.echo(f"wrote {target}/index.html, {plural(pages, 'story page')} and changes.xml "
               f"({plural(len(site['changes']), 'change')})")
