"""Which recipes are paper recipes (the ones with a `paper-settings.yaml` entry and a one-step run)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = "paper-settings.yaml"


def is_paper_recipe(path: Path) -> bool:
    """Not the CPU recipes, the quickstart, the settings tables, nor the combinations of methods in
    ``recipes/combined/`` (no paper ran them; tests/composition trains them)."""
    return not (path.name.startswith("cpu") or path.name in ("quickstart.yaml", SETTINGS_FILE)
                or path.relative_to(ROOT / "recipes").parts[0] == "combined")


PAPER_RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if is_paper_recipe(p))
