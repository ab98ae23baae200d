"""FastCuRL next to another selector (PCL): without a composition statement the recipe is refused before any model
loads; with ``compose: {select_prompts: pcl}`` FastCuRL's own draw steps aside, its level still narrows every draw
(``candidate_rows``), and PCL picks only rows of the current level. Refill rounds draw nothing of FastCuRL's own
(``round.is_refill``), with no private step counter."""

import pytest
import trl_reason_fastcurl.plugin as fastcurl_module
import trl_reason_pcl.plugin as pcl_module

from trl_reasoning import ConfigError, GenerationRound, PluginManager
from trl_reasoning.run import build_trainer, prepare

STAGES = [{"level": "short", "steps": 1}, {"level": "long", "steps": 1}]
PCL = {"pool_multiplier": 4, "batch_size": 16, "head_learning_rate": 0.05}


def manager():
    return PluginManager(extra_modules=[("fastcurl", fastcurl_module), ("pcl", pcl_module)], discover=False)


def recipe_for(make_recipe, **extra):
    return make_recipe(
        data={"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8, "max_operand": 99}},
        trainer={"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 8},
        plugins={"fastcurl": {"stages": STAGES}, "pcl": PCL}, **extra)


def test_two_selectors_without_a_composition_statement_are_refused(make_recipe):
    with pytest.raises(ConfigError) as raised:
        prepare(recipe_for(make_recipe), manager())
    message = str(raised.value)
    assert "compose.select_prompts" in message and "'fastcurl'" in message and "'pcl'" in message
    assert "compose: {select_prompts: pcl}" in message  # FastCuRL can step aside: the line to add names PCL


def test_pcl_selects_within_fastcurl_level(make_recipe, tmp_path):
    recipe = recipe_for(make_recipe, compose={"select_prompts": "pcl"})
    trainer = build_trainer(prepare(recipe, manager()), str(tmp_path / "run"))
    trainer.model.train()
    fastcurl, pcl = trainer.pm.active["fastcurl"], trainer.pm.active["pcl"]
    short = set(fastcurl.levels["1"])
    assert 0 < len(short) < len(trainer.train_dataset)
    assert trainer.pm.implementers("select_prompts") == ["pcl"]  # FastCuRL's draw is switched off
    outside = [i for i in range(len(trainer.train_dataset)) if i not in short][:2]
    rows = [dict(trainer.train_dataset[i]) for i in outside]  # the sampler drew two rows outside the level
    chosen = trainer.hooks.select_prompts(rows, 2, GenerationRound.first(0, 0))
    assert len(chosen) == 2 and all(row["prompt_id"] in short for row in chosen)
    assert pcl.last["pcl/pool_size"] == 8.0 and fastcurl.last_selection == []
    refill = trainer.hooks.select_prompts(rows, 2, GenerationRound.first(0, 1).refill(1, 2))
    assert all(row["prompt_id"] in short for row in refill)  # a refill round: still within the level


def test_fastcurl_alone_draws_only_on_a_step_first_round(make_recipe, tmp_path):
    recipe = make_recipe(
        data={"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8, "max_operand": 99}},
        trainer={"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 8},
        plugins={"fastcurl": {"stages": STAGES}})
    trainer = build_trainer(prepare(recipe, manager()), str(tmp_path / "run"))
    fastcurl = trainer.pm.active["fastcurl"]
    rows = [dict(trainer.train_dataset[i]) for i in (0, 1)]
    first = GenerationRound.first(0, 0)
    chosen = fastcurl.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=first)
    assert [row["prompt_id"] for row in chosen] == fastcurl.last_selection
    again = fastcurl.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=first)
    assert [row["prompt_id"] for row in again] == fastcurl.last_selection  # a pure function of the step: no counter
    assert fastcurl.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=first.refill(1, 1)) is None
