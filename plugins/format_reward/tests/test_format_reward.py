"""The example third-party plugin: installed with pip, named in a recipe, it scores and trains."""

from __future__ import annotations

from trl_reasoning.plugins.manager import PluginManager


def test_format_reward_scores_single_boxed_answers():
    reward = PluginManager().rewards()["format"](value=1.0)
    completions = ["so \\boxed{4}", "no box here", "\\boxed{A} \\boxed{B} \\boxed{C}",
                   [{"role": "assistant", "content": "\\fbox{7}"}]]
    assert reward(prompts=[None] * 4, completions=completions) == [1.0, 0.0, 0.0, 1.0]


def test_format_reward_runs_in_a_recipe(make_recipe, run_recipe_steps):
    recipe = make_recipe(rewards=[{"name": "boxed_integer"}, {"name": "format", "weight": 0.1}])
    results = run_recipe_steps(recipe, steps=1)
    assert results["trainer"].reward_func_names == ["boxed_integer", "format"]
    assert results["train"]["global_step"] == 1
