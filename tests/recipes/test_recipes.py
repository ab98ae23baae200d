"""Every recipe loads and validates; every ``cpu.yaml`` and the quickstart run two steps on the tiny model.

The switch ``TRL_REASONING_TEST_MODEL`` replaces every model a recipe names (policy, reference, critic, value
model, teachers) by the tiny test model, as CI does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trl_reasoning.cli.main import main
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.run import prepare

ROOT = Path(__file__).resolve().parents[2]
# paper-settings.yaml files hold the papers' settings next to their recipes (tests/recipes/test_paper_settings.py)
ALL = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if p.name != "paper-settings.yaml")
RUNNABLE = [p for p in ALL if p.name == "cpu.yaml" or p.name == "quickstart.yaml"]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT / "recipes"))


@pytest.mark.parametrize("path", ALL, ids=rel)
def test_recipe_opens_with_its_command_and_validates(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#"), f"{rel(path)} must open with a comment block"
    header = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    header = "\n".join(header)
    runs = ("trl-reason run" in header or "trl_reasoning.cli.main run" in header) and f"recipes/{rel(path)}" in header
    assert runs, f"{rel(path)} must quote the command that runs it in its opening comment block"
    recipe = load_recipe(path)
    assert recipe.description, f"{rel(path)} needs a one-line `description:`"
    prepared = prepare(recipe, PluginManager())
    assert prepared.trainer_class is not None


@pytest.mark.parametrize("path", RUNNABLE, ids=rel)
def test_cpu_recipe_runs_two_steps_on_the_tiny_model(path, tmp_path, monkeypatch, tiny_model_path):
    monkeypatch.setenv("TRL_REASONING_TEST_MODEL", tiny_model_path)
    out = tmp_path / "run"
    status = main(["run", str(path), "--output-dir", str(out), "--set", "trainer.max_steps=2",
                   "--set", "eval.limit=4", "--set", "hub.push=never", "--no-plots"])  # plots: test_paper_recipes_run
    assert status == 0
    assert (out / "recipe.resolved.yaml").exists() and (out / "metrics.jsonl").exists()
    resolved = load_recipe(out / "recipe.resolved.yaml")
    assert resolved.model.name_or_path == tiny_model_path
