"""A run in stages (``run_stages``: FastCuRL's context schedule): each stage's trainer overrides, the stage a run
or a resume starts in, and a new optimizer at a stage boundary where a stage asks for one (``fresh_optimizer``)."""

from __future__ import annotations

import os

from trl_reasoning.config.schema import ConfigError
from trl_reasoning.run.build import build_config
from trl_reasoning.run.prepare import PreparedRun
from trl_reasoning.run.resume import trained_steps

STAGE_KEYS = ("fresh_optimizer",)  # run_stages keys that are not trainer-config fields


def stage_plan(prepared: PreparedRun, output_dir: str, checkpoint: str | None) -> tuple[list[dict], int]:
    """The trainer overrides of each stage (``run_stages``; one stage without overrides when no plugin splits the
    run) and the stage a run (or a resume from ``checkpoint``) starts in."""
    hook = prepared.pm.hook.run_stages
    stages = hook(recipe=prepared.recipe, args=build_config(prepared, output_dir)) if hook.get_hookimpls() else None
    if not stages:
        return [{}], 0
    ends = [stage.get("max_steps") for stage in stages]
    if any(not isinstance(end, int) or end < 1 for end in ends) or any(b <= a for a, b in zip(ends, ends[1:])):
        raise ConfigError("plugins", f"run_stages must give each stage an increasing max_steps, got {ends}")
    done = (trained_steps(checkpoint) or 0) if checkpoint is not None else 0
    first = next((i for i, end in enumerate(ends) if end > done), len(stages) - 1)
    return stages, first


def stage_overrides(stages: list[dict], index: int, checkpoint: str | None) -> dict:
    """A later stage's trainer starts its sampler afresh from the checkpoint it resumes (``ignore_data_skip``)."""
    overrides = {k: v for k, v in stages[index].items() if k not in STAGE_KEYS}
    if index > 0 and checkpoint is not None:
        return {**overrides, "ignore_data_skip": True}
    return overrides


def wants_fresh_optimizer(stages: list[dict], index: int, checkpoint: str | None) -> bool:
    """``fresh_optimizer``: a stage whose trainer resumes from the checkpoint at its first step (the boundary, in
    the run or on ``--resume``) starts with a new optimizer and LR scheduler; a resume inside the stage restores
    them as usual."""
    if index == 0 or checkpoint is None or not stages[index].get("fresh_optimizer"):
        return False
    return trained_steps(checkpoint) == stages[index - 1]["max_steps"]


def refuse_fresh_optimizer_under_deepspeed(trainer, stages: list[dict], index: int) -> None:
    """DeepSpeed restores the optimizer together with the weights: checked when the first trainer is built,
    before training."""
    if trainer.is_deepspeed_enabled and any(stage.get("fresh_optimizer") for stage in stages[index:]):
        raise ConfigError("plugins", "a stage asks for a fresh optimizer (fresh_optimizer), but DeepSpeed restores "
                          "the optimizer together with the weights; launch without DeepSpeed or turn the plugin's "
                          "fresh-optimizer setting off")


def save_boundary(trainer) -> str:
    """Save a checkpoint at a stage boundary (all ranks) and return its path."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR  # heavy

    trainer._save_checkpoint(trainer.model, trial=None)
    return os.path.join(trainer.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}")
