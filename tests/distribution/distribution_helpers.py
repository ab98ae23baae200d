"""What the repository declares it ships: the built-in plugins (plugins/*/pyproject.toml) and the recipes."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT_GROUP = "trl_reasoning"


def core_project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def plugin_projects() -> dict[Path, dict]:
    """``{plugin folder: its [project] table}`` for every plugins/*/pyproject.toml."""
    return {path.parent: tomllib.loads(path.read_text(encoding="utf-8"))["project"]
            for path in sorted((ROOT / "plugins").glob("*/pyproject.toml"))}


def builtin_plugin_names() -> dict[str, str]:
    """``{entry-point name: distribution}`` of every built-in plugin."""
    names = {}
    for project in plugin_projects().values():
        for name in project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}):
            names[name] = project["name"]
    return names


def repository_recipes() -> set[str]:
    """The recipe names of the repository's recipes/ folder (path without .yaml; paper-settings tables are data)."""
    root = ROOT / "recipes"
    return {path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.yaml")
            if path.name != "paper-settings.yaml"}
