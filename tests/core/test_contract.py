"""Contract test: the TRL methods our trainers override keep the signatures we wrote against.

A TRL upgrade that changes one of them fails here instead of failing a user's run. When it fails, read the new
TRL code, adapt ``trl_reasoning/trainers/``, then update the pinned signature below.
"""

from __future__ import annotations

import inspect

import trl
from trl import GRPOTrainer

from trl_reasoning.trainers import ReasoningGRPOTrainer

# Parameter names, in order, of each GRPOTrainer method we override (annotations are not compared: their rendering
# depends on import order, while a renamed, added or removed parameter is what breaks an override).
PINNED = {
    "__init__": ["self", "model", "reward_funcs", "args", "train_dataset", "eval_dataset", "processing_class",
                 "reward_processing_classes", "callbacks", "optimizers", "quantization_config", "peft_config",
                 "tools", "rollout_func", "environment_factory"],
    "_generate_and_score_completions": ["self", "inputs"],
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    "_compute_loss": ["self", "model", "inputs"],
    "_get_per_token_logps_and_entropies": None,  # leading parameters checked below
    "_save_checkpoint": ["self", "model", "trial"],
    "_load_optimizer_and_scheduler": ["self", "checkpoint"],
    "_get_train_sampler": ["self", "dataset"],
    "create_optimizer": ["self", "model"],
    "_get_output_dir": ["self", "trial"],  # checkpoints are staged, then renamed (trl_reasoning/lifecycle/checkpoints.py)
    "create_model_card": ["self", "model_name", "dataset_name", "tags"],  # ours replaces TRL's (hub.py)
}

LOGPS_PARAMS = ["self", "model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "compute_entropy"]


def test_trl_minor_version_is_the_pinned_one():
    assert trl.__version__.startswith("1.16."), f"trl-reasoning is written against TRL 1.16, found {trl.__version__}"


def test_overridden_methods_keep_their_signatures():
    overridden = [name for name, value in vars(ReasoningGRPOTrainer).items()
                  if callable(value) and hasattr(GRPOTrainer, name) and not name.startswith("__") or name == "__init__"]
    unpinned = sorted(set(overridden) - set(PINNED))
    assert not unpinned, f"pin the TRL signature of newly overridden methods: {unpinned}"
    for name, pinned in PINNED.items():
        if pinned is None:
            continue
        actual = list(inspect.signature(getattr(GRPOTrainer, name)).parameters)
        assert actual == pinned, f"GRPOTrainer.{name} changed:\n  pinned {pinned}\n  now    {actual}"


def test_logps_and_entropies_leading_parameters():
    params = list(inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters)
    assert params[: len(LOGPS_PARAMS)] == LOGPS_PARAMS


def test_repeat_sampler_keeps_the_arguments_our_sampler_copies():
    """`EpochSeededRepeatSampler.like` rebuilds TRL's train sampler from these arguments."""
    from trl.trainer.utils import RepeatSampler

    assert list(inspect.signature(RepeatSampler.__init__).parameters) == [
        "self", "data_source", "mini_repeat_count", "batch_size", "repeat_count", "shuffle", "seed"]
    assert "return RepeatSampler(" in inspect.getsource(GRPOTrainer._get_train_sampler)


def test_advantages_shape_contract_in_compute_loss():
    """Per-token (B, T) advantages pass through `_compute_loss` unchanged (PPO relies on it)."""
    source = inspect.getsource(GRPOTrainer._compute_loss)
    assert "if advantages.dim() == 1:" in source
    source = inspect.getsource(GRPOTrainer._calculate_rewards)
    assert "rewards_per_func = gather(rewards_per_func)" in source


SFT_PINNED = {
    "__init__": ["self", "model", "args", "data_collator", "train_dataset", "eval_dataset", "processing_class",
                 "compute_loss_func", "compute_metrics", "callbacks", "optimizers", "optimizer_cls_and_kwargs",
                 "preprocess_logits_for_metrics", "quantization_config", "peft_config", "formatting_func"],
    "create_optimizer": ["self", "model"],
    "_save_checkpoint": ["self", "model", "trial"],
    "_load_optimizer_and_scheduler": ["self", "checkpoint"],
    "compute_loss": ["self", "model", "inputs", "return_outputs", "num_items_in_batch"],
}


def test_sft_trainer_overrides_keep_their_signatures():
    from trl import SFTTrainer

    from trl_reasoning.trainers.sft import ReasoningSFTTrainer

    overridden = {name for name, value in vars(ReasoningSFTTrainer).items()
                  if callable(value) and hasattr(SFTTrainer, name)}
    unpinned = sorted(overridden - set(SFT_PINNED))
    assert not unpinned, f"pin the TRL signature of newly overridden SFTTrainer methods: {unpinned}"
    for name in overridden:
        assert list(inspect.signature(getattr(SFTTrainer, name)).parameters) == SFT_PINNED[name], name
