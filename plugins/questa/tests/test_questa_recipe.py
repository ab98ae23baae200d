"""The QuestA paper recipe trains on the authors' released pool: one file of the Hub dataset, its `problem` and
`answer` columns, hints cut from the post-`</think>` part of its `generation` column, and the success-rate filter
with refill rounds. A local file in the pool's layout stands in for the Hub file (same URL reader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trl_reasoning.data import load_train_rows, prompt_rows
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[3]
PAPER = ROOT / "recipes" / "questa" / "openmath-nemotron-1.5b.yaml"
POOL = Path(__file__).parent / "fixtures" / "questa_pool_sample.jsonl"


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "questa")


def test_the_paper_recipe_names_the_authors_pool_and_refills_filtered_groups():
    recipe = load_recipe(PAPER)
    assert recipe.data.train == "hf://datasets/foreverlasting1202/QuestA/OpenR1-50-0-4.jsonl"
    assert (recipe.data.problem_column, recipe.data.answer_column) == ("problem", "answer")
    assert recipe.plugins["questa"]["solution_column"] == "generation"
    assert recipe.trainer["group_filter"] == [0.05, 0.95] and recipe.trainer["group_filter_max_rounds"] >= 1


@pytest.mark.parametrize("fraction, hints", [
    (0.5, ["What is 12 + 34 - 5?\n\n## Hint.\n\n12 + 34 = 46. 46 - 5 = 41",
           "Compute $3 \\cdot 7$.\n\n## Hint.\n\nWe have $3 \\cdot 7 = 21$, s",  # the stored quotes are gone
           None]),                                                             # answer not in the solution
    (0.25, ["What is 12 + 34 - 5?\n\n## Hint.\n\n12 + 34 = 4",
            "Compute $3 \\cdot 7$.\n\n## Hint.\n\nWe have $3 \\",
            None]),
])
def test_hints_come_from_the_generation_after_think(fraction, hints):
    recipe = load_recipe(PAPER, overrides=[f"data.train={POOL.as_uri()}"])  # file:// goes through the URL reader
    rows = prompt_rows(load_train_rows(recipe.data), recipe.data)
    assert [row["answer"] for row in rows] == ["41", "21", "5"]
    assert all("generation" in row for row in rows)  # the hint source survives into the training rows
    pm = PluginManager()
    pm.activate({"questa": recipe.plugins["questa"]})
    questa = pm.active["questa"]
    questa.fraction = fraction
    assert [questa.hint_for(row) for row in rows] == hints
