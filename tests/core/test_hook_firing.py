"""Every run-time hook fires in a real two-step GRPO run on the tiny model, with the effect its docs promise."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.trainers.grpo import PLUGIN_STATE_FILE

MARK = " (think in tens)"


class Recorder:
    def __init__(self):
        self.calls: dict[str, int] = {}
        self.batches = []
        self.loss_inputs = []
        self.chosen: list[list[int]] = []
        self.restored = None
        self.rounds = []

    def _hit(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    @hookimpl
    def modify_model(self, model):
        self._hit("modify_model")
        model.config.recorder_was_here = True

    @hookimpl
    def reward_funcs(self, recipe):
        self._hit("reward_funcs")

        def length_penalty(prompts, completions, **kwargs):
            return [0.0] * len(completions)

        return [length_penalty]

    @hookimpl
    def trainer_ready(self, trainer):
        self._hit("trainer_ready")
        self.trainer = trainer

    @hookimpl
    def auxiliary_models(self, trainer):
        self._hit("auxiliary_models")
        frozen = torch.nn.Linear(2, 1)
        frozen.requires_grad_(False)
        return {"probe": frozen}

    @hookimpl
    def param_groups(self, trainer, model):
        self._hit("param_groups")
        self.extra = torch.nn.Parameter(torch.zeros(1))
        return [{"params": [self.extra], "lr": 0.5}]

    @hookimpl
    def train_sampler(self, trainer, dataset, default_sampler):
        self._hit("train_sampler")
        return None

    @hookimpl
    def schedule(self, trainer, step):
        self._hit("schedule")
        return {"max_completion_length": 16 if step < 1 else 6, "stage": step}

    @hookimpl
    def select_prompts(self, trainer, rows, num_prompts):
        self._hit("select_prompts")
        eligible = trainer.eligible_rows()
        picked = [dict(trainer.train_dataset[i]) for i in eligible[:num_prompts]]
        self.chosen.append([row["prompt_id"] for row in picked])
        return picked

    @hookimpl
    def candidate_rows(self, trainer, dataset, indices):
        self._hit("candidate_rows")
        return [i for i in indices if i % 2 == 1]  # odd prompt ids only

    @hookimpl
    def transform_prompt(self, trainer, row):
        self._hit("transform_prompt")
        row["prompt"] = [dict(m) for m in row["prompt"]]
        row["prompt"][-1]["content"] += MARK
        return row

    @hookimpl
    def shape_rewards(self, trainer, batch):
        self._hit("shape_rewards")
        return {"length_penalty": -0.01 * batch.completion_lengths.float()}  # (B,)

    @hookimpl
    def on_rewards(self, trainer, batch, round):
        self._hit("on_rewards")
        self.batches.append(batch)
        self.rounds.append(round)

    @hookimpl
    def filter_groups(self, trainer, batch):
        self._hit("filter_groups")
        return torch.ones(batch.num_groups, dtype=torch.bool)

    @hookimpl
    def advantages(self, trainer, batch, inputs, output):
        self._hit("advantages")
        return None

    @hookimpl
    def extra_batch_fields(self, trainer, batch, inputs, output):
        self._hit("extra_batch_fields")
        return {"row_marker": torch.arange(len(inputs), dtype=torch.float32)}  # (B_local,)

    @hookimpl
    def loss_terms(self, trainer, model, inputs, ctx):
        self._hit("loss_terms")
        self.loss_inputs.append(("row_marker" in ctx.inputs, ctx.per_token_logps is not None,
                                 tuple(ctx.completion_mask.shape)))
        return {"probe_term": 0.0 * ctx.per_token_logps.sum()}

    @hookimpl
    def metrics(self, trainer, mode):
        self._hit("metrics")
        return {"recorder/batches": float(len(self.batches))}

    @hookimpl
    def plugin_state(self, trainer):
        self._hit("plugin_state")
        return {"batches_seen": len(self.batches)}

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self._hit("load_plugin_state")
        self.restored = state


def test_every_run_time_hook_fires_with_its_effect(make_recipe, run_recipe_steps, tmp_path):
    recorder = Recorder()
    pm = PluginManager()
    pm.register_active("recorder", recorder)
    recipe = make_recipe(trainer={"save_strategy": "steps", "save_steps": 1})
    results = run_recipe_steps(recipe, steps=2, pm=pm)
    trainer = results["trainer"]

    for name in ("modify_model", "reward_funcs", "trainer_ready", "auxiliary_models", "param_groups",
                 "train_sampler", "schedule", "select_prompts", "candidate_rows", "transform_prompt",
                 "shape_rewards", "on_rewards", "filter_groups", "advantages", "extra_batch_fields", "loss_terms",
                 "metrics", "plugin_state"):
        assert recorder.calls.get(name), f"hook {name} never fired"

    assert trainer.model.config.recorder_was_here
    assert "probe" in trainer.auxiliary
    assert any(any(p is recorder.extra for p in g["params"]) for g in trainer.optimizer.param_groups)
    # selection and rewriting take effect on the same step, for whole groups
    seen = [sorted(set(b.prompt_ids)) for b in recorder.batches]
    assert seen == [sorted(set(c)) for c in recorder.chosen]
    assert all(pid % 2 == 1 for b in recorder.batches for pid in b.prompt_ids)
    assert all(p[-1]["content"].endswith(MARK) for b in recorder.batches for p in b.prompts)
    # each generation round has its context, also on the batch, counted across the run
    assert [(r.step, r.round_index, r.is_refill, r.generation) for r in recorder.rounds] == [(0, 0, False, 0),
                                                                                             (1, 0, False, 1)]
    assert all(b.round is r for b, r in zip(recorder.batches, recorder.rounds))
    # shaped rewards are what the batch (and so the advantages) carry
    first = recorder.batches[0]
    expected = -0.01 * first.completion_lengths.float()
    assert torch.allclose(first.reward("length_penalty"), expected)
    # the schedule changed the generation budget from step 1 on
    assert recorder.batches[1].completion_lengths.max().item() <= 6
    assert first.completion_lengths.max().item() > 6
    metrics = [json.loads(line) for line in Path(recipe.output_dir, "metrics.jsonl").read_text().splitlines()]
    assert [m.get("schedule/max_completion_length") for m in metrics if "schedule/stage" in m][:2] == [16.0, 6.0]
    assert any("loss/probe_term" in m for m in metrics) and any("recorder/batches" in m for m in metrics)
    # the end-of-training summary line does not repeat the last step's plugin metrics under the same step
    summary = [m for m in metrics if "train_runtime" in m]
    assert len(summary) == 1 and "recorder/batches" not in summary[0]
    assert all(found_marker and has_logps for found_marker, has_logps, _ in recorder.loss_inputs)
    # plugin state is in every checkpoint and comes back on resume
    state = torch.load(Path(recipe.output_dir) / "checkpoint-1" / PLUGIN_STATE_FILE, weights_only=False)
    assert state["recorder"] == {"batches_seen": 1}

    again = Recorder()
    pm2 = PluginManager()
    pm2.register_active("recorder", again)
    recipe2 = make_recipe(trainer={"save_strategy": "steps", "save_steps": 1})
    run_recipe_steps(recipe2, steps=2, pm=pm2, output_dir=recipe.output_dir,
                     resume=str(Path(recipe.output_dir) / "checkpoint-1"))
    assert again.calls.get("load_plugin_state") == 1 and again.restored == {"batches_seen": 1}
    # the run's round counter and the per-prompt record continue from the checkpoint
    assert [(r.step, r.generation) for r in again.rounds] == [(1, 1)]
    assert state["core:records"]["generation"] == 1


def test_only_named_plugins_act(make_recipe, run_recipe_steps):
    """An installed plugin that a recipe does not name changes nothing (its rewards are offered, not used)."""
    pm = PluginManager()
    recipe = make_recipe()
    results = run_recipe_steps(recipe, steps=1, pm=pm)
    assert [name for name in pm.active if not name.startswith("core:")] == []
    assert results["trainer"].reward_func_names == ["boxed_integer"]
