"""HAPO's recipes load and validate (CI runs cpu.yaml for two steps on the tiny model)."""

from pathlib import Path

import pytest

from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.run import prepare

ROOT = Path(__file__).resolve().parents[3]
RECIPES = sorted(p for p in (ROOT / "recipes" / "hapo").glob("*.yaml") if p.name != "paper-settings.yaml")


def plugin_manager():
    import trl_reason_correctness.plugin
    import trl_reason_hapo.plugin

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("hapo", trl_reason_hapo.plugin),
                                        ("correctness", trl_reason_correctness.plugin)], discover=False)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_validates(path):
    text = path.read_text()
    assert text.startswith("#") and "Command:" in text and "Hardware:" in text
    recipe = load_recipe(path)
    assert recipe.description
    assert "hapo" in prepare(recipe, plugin_manager()).pm.active


def test_paper_setting():
    recipe = load_recipe(ROOT / "recipes/hapo/deepseek-r1-distill-qwen-1.5b.yaml")
    t = recipe.trainer
    assert (t["num_generations"], t["temperature"], t["num_train_epochs"]) == (2, 0.7, 5)
    assert recipe.plugins["hapo"] == {"weight": 1.0, "mode": "min", "reward_type": "cosine", "clip": 0.7}


def test_installed_through_its_entry_point():
    from trl_reasoning.plugins.manager import PluginManager

    installed = PluginManager().installed
    assert installed["hapo"].distribution == "trl-reason-hapo"
    assert installed["hapo"].entry_point == "hapo = trl_reason_hapo.plugin"
