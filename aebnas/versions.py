"""The versions of Python and of the libraries a saved file depends on, recorded beside it."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata


def library_versions(packages: Iterable[str]) -> dict[str, str]:
    """Python's version and each of ``packages``' in this process ('not installed' for a missing one)."""
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
