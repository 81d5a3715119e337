"""Files that travel with the package: migrations and seeds.

Installed, they are the subpackages ``tracker.migrations`` and ``tracker.seed_files`` (the
top-level ``migrations/`` and ``seeds/`` directories, mapped by pyproject.toml). Run from a source
checkout without installing, they are found beside the ``tracker`` directory.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _located(package: str, directory: str) -> Traversable:
    try:
        found = resources.files(package)
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return _CHECKOUT / directory


def migrations_dir() -> Traversable:
    return _located("tracker.migrations", "migrations")


def seeds_dir() -> Traversable:
    return _located("tracker.seed_files", "seeds")
