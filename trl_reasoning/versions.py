"""Installed versions of the distributions a run depends on, for provenance, checkpoint metadata, model cards and
results (one reader of ``importlib.metadata``; a distribution that is not installed is ``None``)."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Iterable


def version_of(dist: str) -> str | None:
    """The installed version of ``dist``, or ``None``."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions_of(dists: Iterable[str], *, python: bool = False) -> dict[str, str | None]:
    """``{dist: version or None}`` in the order given; with ``python``, ``{"python": "3.x.y", ...}`` first."""
    versions: dict[str, str | None] = {"python": platform.python_version()} if python else {}
    versions.update((dist, version_of(dist)) for dist in dists)
    return versions
