"""The PPO critic follows the fp32-master rule: PPO refuses DeepSpeed/FSDP, so the critic's master weights come from
its load. By default it loads in fp32 (verl's critic: ``model_dtype: fp32``) and computes in bf16 under
``bf16: true``; ``critic_dtype: bfloat16`` trains it pure bf16, and the start-up warning names the key to fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.run import run_recipe

ROOT = Path(__file__).resolve().parents[3]


def first_token_parity(prompts, completions, completion_ids, **kwargs):
    """A reward with variance on a random model: 1 when the first completion token id is odd."""
    return [float(ids[0] % 2) if ids else 0.0 for ids in completion_ids]


@hookimpl
def register_rewards(register):
    register("first_token_parity", first_token_parity)


def _run(tiny_model_path, tmp_path, *overrides):
    import trl_reason_ppo.plugin as ppo_plugin

    pm = PluginManager(extra_modules=[("ppo", ppo_plugin), ("ppo_precision_rewards", sys.modules[__name__])],
                       discover=False)
    recipe = load_recipe(ROOT / "recipes/ppo/cpu.yaml", [
        f"test_model={tiny_model_path}", "trainer.max_steps=1", "trainer.max_completion_length=8",
        "rewards=[{name: first_token_parity}]", "model.dtype=float32", "trainer.bf16=true", *overrides])
    return run_recipe(recipe, output_dir=str(tmp_path / "run"), pm=pm)


def _dtypes(module) -> set:
    return {p.dtype for p in module.parameters() if p.requires_grad}


def test_critic_loads_fp32_and_trains_under_bf16_autocast_without_a_warning(tiny_model_path, tmp_path, capsys):
    start = {k: v.clone() for k, v in _critic_start(tiny_model_path).items()}
    results = _run(tiny_model_path, tmp_path)
    trainer = results["trainer"]
    assert trainer.args.bf16 and trainer.accelerator.mixed_precision == "bf16"
    assert _dtypes(trainer.critic) == {torch.float32} and _dtypes(trainer.model) == {torch.float32}
    assert "master weights" not in capsys.readouterr().err
    # the critic's body moved by about its learning rate (AdamW's first step), not rounded away
    moved = [float((p.detach() - start[n]).abs().max()) for n, p in trainer.critic.named_parameters()
             if n in start and p.requires_grad]
    assert max(moved) > 0.5 * trainer.args.critic_learning_rate


def test_a_bf16_critic_is_named_by_the_warning(tiny_model_path, tmp_path, capsys):
    results = _run(tiny_model_path, tmp_path, "trainer.critic_dtype=bfloat16")
    assert _dtypes(results["trainer"].critic) == {torch.bfloat16}
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("without fp32 master weights") == 1
    assert "Affected: auxiliary model 'critic'" in err and "trainer.critic_dtype: float32" in err
    assert "the policy (" not in err  # the policy is fp32: not among the affected models


def test_critic_dtype_is_validated():
    from trl_reason_ppo import ReasoningPPOConfig

    with pytest.raises(ValueError, match="critic_dtype must be one of float32, bfloat16, float16, policy"):
        ReasoningPPOConfig(output_dir="unused", critic_dtype="fp32", use_cpu=True, num_generations=2,
                           per_device_train_batch_size=2)


def _critic_start(tiny_model_path) -> dict:
    """The weights the critic starts from (the tiny policy's body; the value head is new)."""
    from transformers import AutoModelForTokenClassification

    critic = AutoModelForTokenClassification.from_pretrained(tiny_model_path, num_labels=1, dtype=torch.float32)
    return {n: p.detach() for n, p in critic.named_parameters() if not n.startswith("score")}
