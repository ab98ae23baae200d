"""Each run-time hook fires in one real one-step GRPO run on the tiny model (shared by this module's tests), with
what its docs say it receives and the effect they promise. ``test_hook_<name>`` per hook (tests/core/test_hooks_meta).
The checkpoint, card and evaluation hooks fire through the core's own code paths on that run's trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from trl_reasoning import ConfigError, GenerationRound, LossContext, RolloutBatch, hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.testing import tiny_recipe

MARK = " (hooked)"


class Recorder:
    """Implements every run-time hook; records what each received and changes something visible."""

    def __init__(self):
        self.calls: dict[str, list[dict]] = {}
        self.extra = torch.nn.Parameter(torch.zeros(1))

    def _hit(self, name, **seen):
        self.calls.setdefault(name, []).append(seen)

    # -- setup

    @hookimpl
    def run_stages(self, recipe, args):
        self._hit("run_stages", recipe=recipe, batch_size=args.per_device_train_batch_size)
        return None

    @hookimpl
    def validate_run(self, recipe, args):
        self._hit("validate_run", use_vllm=args.use_vllm)

    @hookimpl
    def modify_model(self, model, processing_class, recipe):
        self._hit("modify_model", tokenizer=processing_class is not None, recipe=recipe)
        model.config.recorder_was_here = True

    @hookimpl
    def reward_funcs(self, recipe):
        self._hit("reward_funcs")

        def zero_reward(prompts, completions, **kwargs):
            return [0.0] * len(completions)

        zero_reward.weight = 0.5
        return [zero_reward]

    @hookimpl
    def trainer_ready(self, trainer):
        self._hit("trainer_ready", has_accelerator=trainer.accelerator is not None)
        self.trainer = trainer

    @hookimpl
    def auxiliary_models(self, trainer):
        self._hit("auxiliary_models")
        frozen = torch.nn.Linear(2, 1)
        frozen.requires_grad_(False)
        return {"probe": frozen}

    @hookimpl
    def param_groups(self, trainer, model):
        self._hit("param_groups", model=model)
        return [{"params": [self.extra], "lr": 0.5}]

    @hookimpl
    def train_sampler(self, trainer, dataset, default_sampler):
        self._hit("train_sampler", rows=len(dataset), default=type(default_sampler).__name__)
        return None

    # -- every step

    @hookimpl
    def schedule(self, trainer, step):
        self._hit("schedule", step=step)
        return {"stage": 7}

    @hookimpl
    def candidate_rows(self, trainer, dataset, indices, round):
        self._hit("candidate_rows", indices=len(indices), round=round)
        return [i for i in indices if i % 2 == 0]

    @hookimpl
    def select_prompts(self, trainer, rows, num_prompts, round):
        eligible = trainer.eligible_rows(round)
        picked = [dict(trainer.train_dataset[i]) for i in eligible[:num_prompts]]
        self._hit("select_prompts", rows=len(rows), num_prompts=num_prompts, round=round,
                  picked=[row["prompt_id"] for row in picked])
        return picked

    @hookimpl
    def transform_prompt(self, trainer, row, round):
        self._hit("transform_prompt", prompt_id=row["prompt_id"], round=round)
        row["prompt"] = [dict(m) for m in row["prompt"]]
        row["prompt"][-1]["content"] += MARK
        return row

    @hookimpl
    def shape_rewards(self, trainer, batch, round):
        self._hit("shape_rewards", batch=batch, round=round)
        return {"zero_reward": torch.ones(batch.size)}  # (B,)

    @hookimpl
    def on_rewards(self, trainer, batch, round):
        self._hit("on_rewards", batch=batch, round=round)

    @hookimpl
    def filter_groups(self, trainer, batch, round):
        self._hit("filter_groups", groups=batch.num_groups, round=round)
        return torch.ones(batch.num_groups, dtype=torch.bool)

    @hookimpl
    def advantages(self, trainer, batch, inputs, output, round):
        self._hit("advantages", rows=len(inputs), shape=tuple(output["advantages"].shape), round=round)
        return output["advantages"].clone()  # (B_local,) GRPO's, through the hook

    @hookimpl
    def extra_batch_fields(self, trainer, batch, inputs, output):
        self._hit("extra_batch_fields", rows=len(inputs))
        return {"row_marker": torch.arange(len(inputs), dtype=torch.float32)}  # (B_local,)

    @hookimpl
    def loss_terms(self, trainer, model, inputs, ctx):
        self._hit("loss_terms", ctx=ctx, marker="row_marker" in ctx.inputs,
                  mask_shape=tuple(ctx.completion_mask.shape))
        return {"probe_term": 0.0 * ctx.per_token_logps.sum()}

    @hookimpl
    def metrics(self, trainer, mode):
        self._hit("metrics", mode=mode)
        return {"recorder/rounds": float(len(self.calls.get("on_rewards", [])))}

    # -- checkpoints, evaluation, card

    @hookimpl
    def plugin_state(self, trainer):
        self._hit("plugin_state")
        return {"rounds": len(self.calls.get("on_rewards", []))}

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self._hit("load_plugin_state", state=state)

    @hookimpl
    def inference_model(self, model, options):
        self._hit("inference_model", options=options)
        return torch.nn.Identity()

    @hookimpl
    def model_card_sections(self, recipe, results):
        self._hit("model_card_sections", results=results)
        return ["## Recorder\n\nEvery hook fired."]


@pytest.fixture(scope="module")
def run(tiny_model_path, tmp_path_factory):
    """One 1-step run with the recorder active and a checkpoint at step 1: ``(recorder, results, recipe, pm)``."""
    from trl_reasoning.run import run_recipe

    recorder = Recorder()
    pm = PluginManager()
    pm.install_core()
    pm.register_active("recorder", recorder)
    recipe = tiny_recipe(tiny_model_path, tmp_path_factory.mktemp("hooks") / "run",
                         trainer={"max_steps": 1, "save_strategy": "steps", "save_steps": 1})
    results = run_recipe(recipe, output_dir=recipe.output_dir, pm=pm, plots=False)
    return recorder, results, recipe, pm


def calls(run, name: str) -> list[dict]:
    found = run[0].calls.get(name, [])
    assert found, f"hook {name} never fired"
    return found


def metrics_lines(run) -> list[dict]:
    return [json.loads(line) for line in Path(run[2].output_dir, "metrics.jsonl").read_text().splitlines()]


def first_round(call: dict) -> None:
    round = call["round"]
    assert isinstance(round, GenerationRound)
    assert (round.step, round.round_index, round.is_refill) == (0, 0, False)


def test_hook_run_stages(run):
    (call,) = calls(run, "run_stages")
    assert call["recipe"] is run[2] and call["batch_size"] == 4


def test_hook_validate_run(run, make_recipe):
    assert calls(run, "validate_run") == [{"use_vllm": False}]

    class Refuses:
        @hookimpl
        def validate_run(self, recipe, args):
            raise ConfigError("trainer.use_vllm", "the refusing plugin cannot work with this run")

    from trl_reasoning.run import preflight  # what `trl-reason run` and `validate` check before any model loads

    pm = PluginManager(discover=False)
    pm.install_core()
    pm.register_active("refuses", Refuses())
    with pytest.raises(ConfigError, match="the refusing plugin"):
        preflight(make_recipe(), pm)


def test_hook_modify_model(run):
    (call,) = calls(run, "modify_model")
    assert call["tokenizer"] and call["recipe"] is run[2]
    assert run[1]["trainer"].model.config.recorder_was_here


def test_hook_reward_funcs(run):
    calls(run, "reward_funcs")
    batch = calls(run, "on_rewards")[0]["batch"]
    assert batch.reward_names == ["boxed_integer", "zero_reward"]
    assert batch.reward_weights.tolist() == [1.0, 0.5]


def test_hook_trainer_ready(run):
    assert calls(run, "trainer_ready") == [{"has_accelerator": True}]
    assert run[0].trainer is run[1]["trainer"]


def test_hook_auxiliary_models(run):
    calls(run, "auxiliary_models")
    probe = run[1]["trainer"].auxiliary["probe"]
    assert not any(p.requires_grad for p in probe.parameters())


def test_hook_param_groups(run):
    (call,) = calls(run, "param_groups")
    trainer = run[1]["trainer"]
    group = next(g for g in trainer.optimizer.param_groups if any(p is run[0].extra for p in g["params"]))
    assert group["initial_lr"] == 0.5  # its own learning rate (the schedule has decayed "lr" to 0 after one step)


def test_hook_train_sampler(run):
    (call,) = calls(run, "train_sampler")
    assert call["rows"] == 64 and "RepeatSampler" in call["default"]


def test_hook_schedule(run):
    assert [c["step"] for c in calls(run, "schedule")] == [0]
    assert any(m.get("schedule/stage") == 7 for m in metrics_lines(run))


def test_hook_candidate_rows(run):
    for call in calls(run, "candidate_rows"):
        assert call["indices"] == 64
        first_round(call)
    assert all(pid % 2 == 0 for pid in calls(run, "on_rewards")[0]["batch"].prompt_ids)  # narrowed rows only


def test_hook_select_prompts(run):
    (call,) = calls(run, "select_prompts")
    assert call["rows"] == call["num_prompts"] == 1
    first_round(call)
    assert sorted(set(calls(run, "on_rewards")[0]["batch"].prompt_ids)) == call["picked"]  # takes effect this step


def test_hook_transform_prompt(run):
    (call,) = calls(run, "transform_prompt")
    first_round(call)
    batch = calls(run, "on_rewards")[0]["batch"]
    assert all(p[-1]["content"].endswith(MARK) for p in batch.prompts)  # every completion of the group


def test_hook_shape_rewards(run):
    (call,) = calls(run, "shape_rewards")
    first_round(call)
    assert isinstance(call["batch"], RolloutBatch)
    batch = calls(run, "on_rewards")[0]["batch"]
    assert torch.equal(batch.reward("zero_reward"), torch.ones(batch.size))  # the batch carries the shaped column


def test_hook_on_rewards(run):
    (call,) = calls(run, "on_rewards")
    first_round(call)
    batch = call["batch"]
    assert batch.round is call["round"]
    assert batch.size == 4 and batch.num_groups == 1 and batch.rewards.shape == (4, 2)
    assert run[1]["trainer"].records.get(batch.prompt_ids[0], batch.variant(0)).attempts == 4  # core:records after


def test_hook_filter_groups(run):
    (call,) = calls(run, "filter_groups")
    first_round(call)
    assert call["groups"] == 1


def test_hook_advantages(run):
    (call,) = calls(run, "advantages")
    first_round(call)
    assert call["rows"] == 4 and call["shape"] == (4,)


def test_hook_extra_batch_fields(run):
    assert calls(run, "extra_batch_fields") == [{"rows": 4}]
    assert all(c["marker"] for c in calls(run, "loss_terms"))  # carried into the loss


def test_hook_loss_terms(run):
    call = calls(run, "loss_terms")[0]
    assert isinstance(call["ctx"], LossContext) and call["mask_shape"][0] == 4
    assert any("loss/probe_term" in m for m in metrics_lines(run))


def test_hook_metrics(run):
    assert {c["mode"] for c in calls(run, "metrics")} == {"train"}
    assert any(m.get("recorder/rounds") == 1.0 for m in metrics_lines(run))


def test_hook_plugin_state(run):
    calls(run, "plugin_state")
    from trl_reasoning.lifecycle.checkpoints import PLUGIN_STATE_FILE

    state = torch.load(Path(run[2].output_dir) / "checkpoint-1" / PLUGIN_STATE_FILE, weights_only=False)
    assert state["recorder"] == {"rounds": 1}


def test_hook_load_plugin_state(run):
    """What the checkpoint holds goes back to each plugin by name, through the trainer's own restore path."""
    from trl_reasoning.lifecycle.checkpoints import PLUGIN_STATE_FILE

    states = torch.load(Path(run[2].output_dir) / "checkpoint-1" / PLUGIN_STATE_FILE, weights_only=False)
    run[1]["trainer"].hooks.load_states(states)
    assert calls(run, "load_plugin_state")[-1]["state"] == {"rounds": 1}


def test_hook_inference_model(run):
    from trl_reasoning.evaluation.recipe_eval import inference_model_hook

    options = object()
    chosen = inference_model_hook(run[3], options)(run[1]["trainer"].model)
    assert isinstance(chosen, torch.nn.Identity)
    assert calls(run, "inference_model")[-1]["options"] is options


def test_hook_model_card_sections(run):
    from trl_reasoning.lifecycle.hub import write_model_card

    card = write_model_card(run[2].output_dir, run[2], pm=run[3], results={"train": {"global_step": 1}})
    assert "## Recorder\n\nEvery hook fired." in card.read_text()
    assert calls(run, "model_card_sections")[-1]["results"] == {"train": {"global_step": 1}}
