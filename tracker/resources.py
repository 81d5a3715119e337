"""Files that travel with the package: migrations and seeds.

Installed, they are the subpackages ``tracker.migrations`` and ``tracker.seeds`` (the top-level
``migrations/`` and ``seeds/`` directories, mapped by pyproject.toml). Run from a source
checkout without installing, they are found beside the ``tracker`` directory.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def package_dir(name: str) -> Traversable:
    try:
        return resources.files(f"tracker.{name}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / name
