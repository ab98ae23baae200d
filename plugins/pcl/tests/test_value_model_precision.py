"""PCL's value model has its own torch AdamW, which DeepSpeed/FSDP never shard, so its master weights come from its
load: ``plugins.pcl.dtype: float32`` (the default, and the paper recipe's) keeps fp32 weights and the backbone
computes in bf16 when the trainer does (``bf16: true``); ``dtype: bfloat16`` is named by the start-up warning."""

from __future__ import annotations

import sys

import torch
import trl_reason_pcl.plugin as pcl_module

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import run_recipe

BACKBONE_LR = 1.0e-6  # the paper recipe's value-backbone learning rate


class EvenPromptReward:
    """Always right on a prompt with an even ``prompt_id``, never on an odd one: pass rates 1 or 0, which the value
    model (predicting 0.5 at the start) has to learn, so its fit has a gradient."""

    __name__ = "even_prompt"

    def __call__(self, prompts=None, completions=None, completion_ids=None, prompt_id=None, **kwargs):
        return [1.0 if int(pid) % 2 == 0 else 0.0 for pid in prompt_id]

    def is_correct(self, values):
        return [v == 1.0 for v in values]


@hookimpl
def register_rewards(register):
    register("even_prompt", EvenPromptReward)


class ComputeDtype:
    """Records the output dtype of the value backbone's first linear layer (bf16 when autocast is on)."""

    def __init__(self):
        self.seen = set()

    @hookimpl
    def trainer_ready(self, trainer):
        linear = next(m for m in trainer.auxiliary["pcl_value"].backbone.modules() if isinstance(m, torch.nn.Linear))
        linear.register_forward_hook(lambda module, args, output: self.seen.add(output.dtype))


def _run(make_recipe, tmp_path, dtype: str):
    recipe = make_recipe(
        model={"dtype": "float32"},
        trainer={"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 8,
                 "scale_rewards": "none", "bf16": True},
        rewards=[{"name": "even_prompt"}],
        # two value updates in the step: the zero-initialised head passes no gradient to the backbone in the first
        plugins={"pcl": {"pool_multiplier": 2, "batch_size": 16, "learning_rate": BACKBONE_LR, "dtype": dtype,
                         "updates_per_step": 2}})
    pm = PluginManager(extra_modules=[("pcl", pcl_module), ("pcl_precision_rewards", sys.modules[__name__])],
                       discover=False)
    probe = ComputeDtype()
    pm.register_active("compute_dtype", probe)
    recipe.trainer["max_steps"] = 1
    return run_recipe(recipe, output_dir=recipe.output_dir, pm=pm), probe


def test_fp32_value_model_computes_in_bf16_and_its_backbone_moves(make_recipe, tiny_model_path, tmp_path, capsys):
    from transformers import AutoModel

    start = {n: p.detach().clone() for n, p in AutoModel.from_pretrained(tiny_model_path).named_parameters()}
    results, probe = _run(make_recipe, tmp_path, "float32")
    value = results["trainer"].auxiliary["pcl_value"]
    assert {p.dtype for p in value.parameters()} == {torch.float32}
    assert value.autocast_dtype is torch.bfloat16 and probe.seen == {torch.bfloat16}
    assert "master weights" not in capsys.readouterr().err
    moved = max(float((p.detach() - start[n]).abs().max()) for n, p in value.backbone.named_parameters())
    assert moved > 0.5 * BACKBONE_LR  # AdamW's step of about lr survives in fp32 (in bf16 it would round away)


def test_a_bf16_value_model_is_named_by_the_warning(make_recipe, tmp_path, capsys):
    results, _ = _run(make_recipe, tmp_path, "bfloat16")
    assert {p.dtype for p in results["trainer"].auxiliary["pcl_value"].backbone.parameters()} == {torch.bfloat16}
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("without fp32 master weights") == 1
    assert "auxiliary model 'pcl_value'" in err and "plugins.pcl.dtype: float32" in err
