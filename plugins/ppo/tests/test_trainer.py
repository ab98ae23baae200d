"""ReasoningPPOTrainer on the tiny model: GAE advantages from a real critic, critic warm-up, checkpoint and resume."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from trl_reason_ppo import ReasoningPPOConfig, ReasoningPPOTrainer
from trl_reason_ppo.trainer import CRITIC_GROUP, PPOHooks

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.run import build_trainer, prepare, run_recipe

ROOT = Path(__file__).resolve().parents[3]


def first_token_parity(prompts, completions, completion_ids, **kwargs):
    """A reward with variance on a random model: 1 when the first completion token id is odd."""
    return [float(ids[0] % 2) if ids else 0.0 for ids in completion_ids]


@hookimpl
def register_rewards(register):
    register("first_token_parity", first_token_parity)


def plugin_manager() -> PluginManager:
    """The ppo plugin (and this module's reward) only: the test does not depend on what else is installed."""
    import trl_reason_correctness.plugin as correctness_plugin
    import trl_reason_ppo.plugin as ppo_plugin

    return PluginManager(extra_modules=[("ppo", ppo_plugin), ("correctness", correctness_plugin),
                                        ("ppo_test_rewards", sys.modules[__name__])], discover=False)


def test_ppo_trainer_is_registered():
    assert plugin_manager().trainers()["ppo"] == (ReasoningPPOTrainer, ReasoningPPOConfig)


def test_constant_critic_gives_reward_minus_b_on_every_token(make_recipe, tmp_path):
    """gamma = lambda = 1, whitening off, a critic that predicts b everywhere: advantages = R - b per token."""
    recipe = make_recipe(trainer={"algorithm": "ppo", "whiten_advantages": False, "gamma": 1.0, "lam": 1.0,
                                  "max_completion_length": 8, "num_generations": 2},
                         rewards=[{"name": "first_token_parity"}])
    trainer = build_trainer(prepare(recipe, plugin_manager()), str(tmp_path / "run"))
    b = 0.25
    with torch.no_grad():
        trainer.critic.score.weight.zero_()
        trainer.critic.score.bias.fill_(b)
    trainer.model.train()
    G, rows_per_batch = trainer.num_generations, trainer.args.per_device_train_batch_size
    inputs = [dict(trainer.train_dataset[i]) for i in range(rows_per_batch // G) for _ in range(G)]
    output = trainer._generate_and_score_completions(inputs)
    batch = trainer.last_batch
    mask = output["completion_mask"].float()  # (B, T)
    reward = batch.total_reward[batch.local_slice]  # (B,)
    assert reward.min() != reward.max(), "the test reward should vary"
    assert mask.sum() > 0
    assert output["advantages"].shape == output["completion_ids"].shape
    torch.testing.assert_close(output["advantages"], (reward.unsqueeze(1) - b) * mask)
    torch.testing.assert_close(output["ppo_returns"], reward.unsqueeze(1) * mask)
    torch.testing.assert_close(output["ppo_old_values"], torch.full_like(mask, b))
    # the loss fields come back with the advantages (Advantages.extra_fields): no stash, no second hook
    assert not hasattr(PPOHooks, "extra_batch_fields") and not hasattr(trainer, "_ppo_fields")


class FirstStepSnapshot(TrainerCallback):
    """What the resumed trainer holds when its first step begins (after the checkpoint is loaded)."""

    def __init__(self, trainer_ref):
        self.trainer_ref = trainer_ref
        self.snapshot = None

    def on_step_begin(self, args, state, control, **kwargs):
        if self.snapshot is None:
            trainer = self.trainer_ref[0]
            self.snapshot = {
                "step": state.global_step,
                "critic": {k: v.detach().clone() for k, v in trainer.critic.state_dict().items()},
                "policy": {k: v.detach().clone() for k, v in trainer.model.state_dict().items()},
                "optimizer": _clone(trainer.optimizer.state_dict()),
            }


def _clone(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    return obj


def _critic_state(optimizer_state: dict) -> dict:
    """``{param index: {exp_avg, exp_avg_sq, step}}`` of the critic's parameter groups."""
    indices = [i for g in optimizer_state["param_groups"] if g.get(CRITIC_GROUP) for i in g["params"]]
    return {i: optimizer_state["state"][i] for i in indices if i in optimizer_state["state"]}


def test_classic_ppo_warmup_checkpoint_and_resume(make_recipe, tiny_model_path, tmp_path):
    """num_generations=1; two critic warm-up steps leave the policy untouched while the critic learns; the checkpoint
    holds the critic, and a resumed run restores the critic's weights and optimizer state exactly."""
    output_dir = tmp_path / "run"
    trainer_cfg = {"algorithm": "ppo", "num_generations": 1, "per_device_train_batch_size": 4,
                   "max_completion_length": 8, "critic_learning_rate": 1.0e-3, "critic_warmup_steps": 2,
                   "critic_weight_decay": 0.0, "lr_scheduler_type": "constant",  # so any change is a gradient's
                   "save_strategy": "steps", "save_steps": 2}
    recipe = make_recipe(trainer=trainer_cfg, rewards=[{"name": "first_token_parity"}])
    recipe.trainer["max_steps"] = 2
    first = run_recipe(recipe, output_dir=str(output_dir), pm=plugin_manager())["trainer"]
    checkpoint = output_dir / "checkpoint-2"
    saved_critic = load_file(str(checkpoint / "critic" / "model.safetensors"))
    initial = load_file(str(Path(tiny_model_path) / "model.safetensors"))

    # warm-up: the policy did not move; the critic's backbone did (it started from the same weights)
    policy = first.model.state_dict()
    for key, value in initial.items():
        torch.testing.assert_close(policy[key], value, msg=f"policy {key} changed during critic warm-up")
    key = "model.layers.0.mlp.down_proj.weight"
    assert not torch.equal(saved_critic[key], initial[key])
    assert [g["lr"] for g in first.optimizer.param_groups if g.get(CRITIC_GROUP)] == [1.0e-3, 1.0e-3]
    del first

    resumed_recipe = make_recipe(trainer={**trainer_cfg, "max_steps": 3}, rewards=[{"name": "first_token_parity"}])
    holder = []
    snapshot = FirstStepSnapshot(holder)
    trainer = build_trainer(prepare(resumed_recipe, plugin_manager()), str(output_dir), [snapshot])
    holder.append(trainer)
    trainer.train(resume_from_checkpoint=str(checkpoint))
    state = snapshot.snapshot
    assert state["step"] == 2 and trainer.state.global_step == 3

    # the critic's weights are the saved ones (not a fresh critic from the policy's weights)
    assert set(state["critic"]) >= set(saved_critic)
    for key, value in saved_critic.items():
        torch.testing.assert_close(state["critic"][key], value, rtol=0, atol=0, msg=f"critic {key}")
    # and its optimizer state (AdamW moments and step count) is the saved one
    saved_optimizer = torch.load(checkpoint / "optimizer.pt", weights_only=False)
    saved, restored = _critic_state(saved_optimizer), _critic_state(state["optimizer"])
    assert saved and set(saved) == set(restored)
    for index, entry in saved.items():
        for name in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(restored[index][name], entry[name], rtol=0, atol=0)
    # after warm-up the resumed run trains the policy too
    assert any(not torch.equal(p, state["policy"][k]) for k, p in trainer.model.state_dict().items())


def test_cpu_recipe_runs_on_the_tiny_model_and_test_model_replaces_the_critic(tiny_model_path, tmp_path):
    """CI's switch: test_model replaces the policy and the critic (even one the recipe names explicitly)."""
    recipe = load_recipe(ROOT / "recipes/ppo/cpu.yaml", [
        f"test_model={tiny_model_path}", "trainer.max_steps=1", "trainer.max_completion_length=8",
        "trainer.critic_model_name_or_path=/no/such/critic"])
    results = run_recipe(recipe, output_dir=str(tmp_path / "run"), pm=plugin_manager())
    trainer = results["trainer"]
    assert results["train"]["global_step"] == 1
    assert trainer.critic.config._name_or_path == tiny_model_path
    assert any(g.get(CRITIC_GROUP) for g in trainer.optimizer.param_groups)


@pytest.mark.parametrize("path", ["recipes/ppo/cpu.yaml", "recipes/one-shot-rlvr/qwen2.5-math-1.5b-pi1-ppo.yaml"])
def test_recipes_validate(path):
    recipe = load_recipe(ROOT / path)
    prepared = prepare(recipe, plugin_manager())
    assert prepared.trainer_class is ReasoningPPOTrainer
    assert recipe.description
    assert Path(ROOT / path).read_text().startswith("#")
