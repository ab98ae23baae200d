"""Every recipe of this plugin loads and validates against the installed plugins (CI runs the cpu.yaml ones)."""

from pathlib import Path

import pytest

from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.run import prepare

ROOT = Path(__file__).resolve().parents[3]
RECIPES = sorted(p for p in (ROOT / "recipes" / "one-shot-rlvr").glob("*.yaml") if p.name != "paper-settings.yaml")
MINE = [p for p in RECIPES if "ppo" not in p.name]  # the PPO setting belongs to the ppo plugin's tests


def plugin_manager():
    import trl_reason_correctness.plugin
    import trl_reason_format_reward.plugin
    import trl_reason_one_shot.plugin

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("one_shot", trl_reason_one_shot.plugin),
                                        ("correctness", trl_reason_correctness.plugin),
                                        ("format_reward", trl_reason_format_reward.plugin)], discover=False)


@pytest.mark.parametrize("path", MINE, ids=lambda p: p.name)
def test_recipe_validates(path):
    text = path.read_text()
    assert text.startswith("#") and "Command:" in text and "Hardware:" in text
    recipe = load_recipe(path)
    assert recipe.description
    prepared = prepare(recipe, plugin_manager())
    assert "one_shot" in prepared.pm.active


def test_paper_settings():
    pi1 = load_recipe(ROOT / "recipes/one-shot-rlvr/qwen2.5-math-1.5b-pi1.yaml")
    assert pi1.plugins["one_shot"]["examples"] == [124]
    assert load_recipe(ROOT / "recipes/one-shot-rlvr/qwen2.5-math-1.5b-pi13.yaml").plugins["one_shot"]["examples"] \
        == [682]
    t = pi1.trainer
    assert (t["learning_rate"], t["num_generations"], t["temperature"], t["max_completion_length"], t["beta"],
            t["entropy_coef"], t["weight_decay"], t["max_steps"]) == (1e-6, 8, 0.6, 3072, 0.001, 0.001, 0.01, 2000)
    # the authors' evaluation, every 20 steps (Qwen2.5-Math harness): what prepare plans is what the run evaluates
    assert pi1.eval.every_steps == 20 and pi1.eval.after
    plan = prepare(pi1, plugin_manager()).eval_plan
    protocol = {b.label: (b.settings["n"], b.settings["temperature"], b.settings["top_p"], b.settings["k_list"],
                          b.settings["max_new_tokens"], b.settings["template"]) for b in plan.benchmarks}
    greedy, avg8 = (1, 0.0, 1.0, [1], 3072, "qwen25-math-cot"), (8, 0.6, 1.0, [1, 8], 3072, "qwen25-math-cot")
    assert protocol == {"math500": greedy, "aime24": avg8, "aime25": avg8, "amc23": avg8, "minerva_math": greedy,
                        "olympiadbench": greedy}
    assert plan.seed == 0
    entropy = load_recipe(ROOT / "recipes/one-shot-rlvr/qwen2.5-math-1.5b-pi1-entropy-only.yaml")
    assert entropy.trainer["pg_loss_coef"] == 0.0 and entropy.trainer["entropy_coef"] == 0.001
