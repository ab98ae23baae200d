"""PCL on real trainers with the tiny model: selection, value fit, checkpointed state, activation through a recipe."""

import json
import os

import torch
import trl_reason_pcl.plugin as pcl_module
from pcl_helpers import REWARD, TRAINER, build_trainer
from trl_reason_pcl.selection import draw_pool, nearest_to_target
from trl_reason_pcl.value_model import PromptValueModel

from trl_reasoning import GenerationRound
from trl_reasoning.testing import registered_plugin

CONFIG = {"pool_multiplier": 4, "head_learning_rate": 0.05, "batch_size": 16}


def test_select_prompts_keeps_the_pool_prompts_predicted_nearest_tau(make_recipe, tmp_path):
    recipe = make_recipe(trainer=TRAINER, rewards=REWARD)
    with registered_plugin("pcl", pcl_module, CONFIG) as pm:
        trainer = build_trainer(recipe, pm, tmp_path / "run")
        plugin = pm.active["pcl"]
        assert trainer.auxiliary["pcl_value"] is plugin.value
        torch.manual_seed(0)
        torch.nn.init.normal_(plugin.value.head.weight, std=2.0)  # spread the predictions
        rows = [dict(trainer.train_dataset[i]) for i in (5, 6)]
        chosen = plugin.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=GenerationRound.first(0, 0))
        pool = draw_pool([5, 6], range(len(trainer.train_dataset)), 8, trainer.args.seed, 0, 0)
        values = plugin.value.predict(plugin.texts([trainer.train_dataset[i]["prompt"] for i in pool]))  # (8,)
        expected = [pool[i] for i in nearest_to_target(values, 0.5, 2)]
        assert [r["prompt_id"] for r in chosen] == expected
        assert len(set(values.tolist())) == 8  # the choice was not a tie
        assert plugin.last["pcl/pool_size"] == 8.0


def test_value_fit_reduces_its_loss_on_a_fixed_table(tiny_model_path):
    from transformers import AutoModel, AutoTokenizer

    backbone = AutoModel.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    value = PromptValueModel(backbone, tokenizer, backbone.config.hidden_size, train_backbone=True,
                             max_prompt_tokens=64, batch_size=3)
    texts = [f"What is {a} + {b}?" for a, b in [(1, 2), (7, 8), (3, 3), (9, 9), (2, 5), (6, 1), (4, 4), (8, 2)]]
    targets = torch.tensor([1.0, 0.0, 0.75, 0.25, 1.0, 0.5, 0.0, 0.5])  # (8,)
    optimizer = torch.optim.AdamW([{"params": list(value.head.parameters()), "lr": 0.05},
                                   {"params": list(value.backbone.parameters()), "lr": 1e-3}])
    first = value.fit(texts, targets, optimizer)
    assert torch.allclose(first["predicted"], torch.full((8,), 0.5))  # zero-initialised head
    for _ in range(30):
        last = value.fit(texts, targets, optimizer)
    assert last["loss_before"] < 0.5 * first["loss_before"]
    assert any(p.grad is not None for p in value.backbone.parameters())  # the backbone trains too


def test_pcl_state_survives_a_resume(make_recipe, run_recipe_steps, tmp_path):
    recipe = make_recipe(trainer={**TRAINER, "save_strategy": "steps", "save_steps": 1}, rewards=REWARD)
    with registered_plugin("pcl", pcl_module, CONFIG) as pm:
        results = run_recipe_steps(recipe, steps=2, pm=pm)
        plugin = pm.active["pcl"]
        records = results["trainer"].records  # the core's per-prompt record saw every fitted group
        fitted = [(s, pid) for pid in results["trainer"].train_dataset["prompt_id"]
                  for s, _ in getattr(records.get(pid), "pass_rates", [])]
        assert plugin.fits == 2 and sorted({s for s, _ in fitted}) == [0, 1] and len(fitted) == 4
        assert results["train"]["global_step"] == 2
    out = recipe.output_dir
    logged = {k for line in open(os.path.join(out, "metrics.jsonl")) for k in json.loads(line)}
    for key in ("pcl/selection_time_s", "pcl/predicted_pass_rate", "pcl/observed_pass_rate", "pcl/effective_ratio",
                "pcl/value_mse", "pcl/selected_distance"):
        assert key in logged, key
    checkpoint = os.path.join(out, "checkpoint-1")
    state = torch.load(os.path.join(checkpoint, "plugin_state.pt"), weights_only=False)["pcl"]
    assert state["fits"] == 1 and "head.weight" in state["value_model"] and state["optimizer"]["state"]
    assert "rounds_at_step" not in state  # no private round counter: the pool is keyed by the core's round
    with registered_plugin("pcl", pcl_module, CONFIG) as pm:
        resumed = run_recipe_steps(recipe, steps=2, pm=pm, output_dir=tmp_path / "resumed", resume=checkpoint)
        plugin = pm.active["pcl"]
        assert resumed["train"]["global_step"] == 2
        assert plugin.fits == 2  # one restored from the checkpoint + the one step after it
