"""Text renderings of the feed list, feed health and the news report (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def interval(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def feeds_text(subs: Sequence[Mapping[str, Any]]) -> str:
    width = max((len(s["name"]) for s in subs), default=4)
    lines = []
    for s in subs:
        tags = f"  [{', '.join(s['tags'])}]" if s["tags"] else ""
        lines.append(f"{s['name']:<{width}}  {interval(s['every_seconds']):>6}  {s['url']}{tags}")
    return "".join(f"{line}\n" for line in lines) if lines else "no feeds followed\n"


def health_text(rows: Sequence[Mapping[str, Any]]) -> str:
    width = max((len(r["name"]) for r in rows), default=4)
    lines = [f"{'feed':<{width}}  {'last success':<20}  {'fails':>5}  {'next attempt':<20}  "
             f"{'items':>5}  last error"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {r['last_success'] or 'never':<20}  "
                     f"{r['consecutive_failures']:>5}  {r['next_attempt'] or '-':<20}  "
                     f"{r['items_recorded']:>5}  {r['last_error'] or ''}")
    return "".join(f"{line}\n" for line in lines)


def news_text(report: Mapping[str, Any]) -> str:
    if not report["stories"]:
        since = report.get("since")
        return "no stories" + (f" since {since}" if since else "") + "\n"
    lines: list[str] = []
    indent = " " * 12
    for story in report["stories"]:
        lines.append(f"{(story['published'] or '')[:10]}  {story['title']}  [{story['id']}]")
        lines.append(f"{indent}score {story['score']}: {', '.join(story['matched'])}")
        for source in story["sources"]:
            lines.append(f"{indent}- {source['feed']}: {source['link'] or '(no link)'} "
                         f"[#{source['position']}]")
        for fact in story["facts"]:
            value = json.dumps(fact["value"], ensure_ascii=False)
            lines.append(f"{indent}* {fact['kind']}: {value} ({fact['confidence']}) "
                         f"[#{fact['position']}]")
    return "".join(f"{line}\n" for line in lines)
