"""Modules imported at their first use, so a command starts without what it does not need.

``tracker status`` should not pay for HTTP, email or the report site's templates: a command
module names such a module with :func:`module` (and imports it for real under
``TYPE_CHECKING``, so it stays type-checked); the import happens at the first attribute read.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        loaded: ModuleType = importlib.import_module(self._name)
        return getattr(loaded, attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported at first use>"


def module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is first read."""
    return _Lazy(name)
