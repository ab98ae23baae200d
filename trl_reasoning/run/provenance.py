"""``provenance.json``: what produced a run (command, versions, git revision, data fingerprint, recipe hash,
plugins, world size, the checkpoint it resumed from)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
import time
from pathlib import Path

from trl_reasoning.versions import versions_of
from trl_reasoning.config.recipe import Recipe
from trl_reasoning.plugins.manager import PluginManager

DISTRIBUTIONS = ("trl-reasoning", "trl", "transformers", "torch", "accelerate", "peft", "datasets", "latex2sympy2",
                 "pluggy")


def _git(*argv: str) -> str | None:
    try:
        return subprocess.run(["git", *argv], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except Exception:  # no git, or not a checkout
        return None


def provenance(recipe: Recipe, dataset_fingerprint: str | None, pm: PluginManager | None = None,
               world_size: int = 1, resumed_from: str | None = None) -> dict:
    versions = versions_of(DISTRIBUTIONS)
    revision = _git("rev-parse", "HEAD") or None
    plugins = {}
    for name in (pm.active if pm is not None else recipe.plugins):
        info = pm.installed.get(name) if pm is not None else None
        plugins[name] = {"distribution": info.distribution if info else None,
                         "version": info.version if info else None,
                         "entry_point": info.entry_point if info else None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    dirty = bool(status) if status is not None else None
    return {"command": sys.argv, "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "git_revision": revision, "git_dirty": dirty if revision else None,
            "data_fingerprint": dataset_fingerprint, "recipe_source": recipe.source,
            "recipe_sha256": hashlib.sha256(recipe.to_yaml().encode()).hexdigest(), "seed": recipe.seed,
            "plugins": plugins, "world_size": world_size, "resumed_from": resumed_from,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
