"""Global options (``--database-url``, ``--config``, ``--tz``, ``-v``, ``-q``) wherever they are
written: ``tracker status --database-url URL`` means ``tracker --database-url URL status``.

Before click parses, :func:`hoist` moves each global option found after the subcommand to just
before it, so the group's own parser reads it. A command's own option of the same name wins
(it is left where it is), as does anything after ``--``, and an option's value is never
mistaken for an option (``--note -v`` keeps ``-v`` as the note).
"""

from __future__ import annotations

import re
from typing import Final

import click

#: Global options that take a value.
VALUE_OPTIONS: Final = ("--database-url", "--config", "--tz")
#: Global flags.
FLAG_OPTIONS: Final = ("--verbose", "--quiet", "-q")
_VERBOSE = re.compile(r"-v+")


def _takes_value(command: click.Command, token: str) -> bool:
    """Whether ``token`` is one of ``command``'s options that takes a separate value."""
    name = token.split("=", 1)[0]
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return not param.is_flag and not param.count and "=" not in token
    return False


def _own(command: click.Command, token: str) -> bool:
    name = token.split("=", 1)[0]
    return any(isinstance(p, click.Option) and name in (*p.opts, *p.secondary_opts)
               for p in command.params)


def _is_global(token: str) -> bool:
    name = token.split("=", 1)[0]
    return name in VALUE_OPTIONS or name in FLAG_OPTIONS or bool(_VERBOSE.fullmatch(token))


def hoist(group: click.Group, args: list[str]) -> list[str]:
    """``args`` with the global options written after the subcommand moved before it."""
    # the group's own options come first; the first other word names the subcommand
    index = 0
    while index < len(args) and args[index].startswith("-") and args[index] != "--":
        index += 1 + (1 if _takes_value(group, args[index]) else 0)
    if index >= len(args) or args[index] == "--":
        return list(args)
    head, rest = list(args[:index]), list(args[index:])
    command: click.Command | None = group.commands.get(rest[0])
    hoisted: list[str] = []
    kept = [rest[0]]
    position = 1
    while position < len(rest):
        token = rest[position]
        if token == "--" or command is None:
            kept.extend(rest[position:])
            break
        if token.startswith("-") and len(token) > 1:
            if _is_global(token) and not _own(command, token):
                takes = token.split("=", 1)[0] in VALUE_OPTIONS and "=" not in token
                hoisted.extend(rest[position:position + (2 if takes else 1)])
                position += 2 if takes else 1
                continue
            step = 2 if _takes_value(command, token) else 1
            kept.extend(rest[position:position + step])
            position += step
            continue
        kept.append(token)
        if isinstance(command, click.Group):
            command = command.commands.get(token)
        position += 1
    return head + hoisted + kept
