"""Lines a run prints once before training: the loss corrections TRL applies with vLLM, and trainable
low-precision weights without fp32 master weights."""

from __future__ import annotations

from trl_reasoning.config.recipe import Recipe
from trl_reasoning.console import console
from trl_reasoning.models import master_weight_warning


def importance_sampling_line(args) -> str | None:
    """One line naming the loss corrections TRL 1.16 applies by default, for a run that generates with vLLM (they
    change the loss relative to verl / older TRL): the vLLM-vs-trainer importance-sampling mode and whether the KL
    term is bias-corrected. ``None`` without vLLM."""
    if not getattr(args, "use_vllm", False):
        return None
    if getattr(args, "vllm_importance_sampling_correction", False):
        bounds = [f"cap {args.vllm_importance_sampling_clip_max}"] if args.vllm_importance_sampling_clip_max else []
        if args.vllm_importance_sampling_clip_min is not None:
            bounds.append(f"floor {args.vllm_importance_sampling_clip_min}")
        sampling = f"{args.vllm_importance_sampling_mode} ({', '.join(bounds) or 'unbounded'})"
    else:
        sampling = "off"
    kl = "on" if getattr(args, "use_bias_correction_kl", False) and getattr(args, "beta", 0) else "off"
    return f"vLLM importance sampling: {sampling}; bias-corrected KL: {kl}"


def print_start_notices(trainer, recipe: Recipe, is_main: bool) -> None:
    """Once per run, before training, on the main process (``models.master_weight_warning``)."""
    message = master_weight_warning(trainer, recipe)
    if not is_main:
        return
    if message:
        console.print(f"[bold yellow]warning:[/] {message}", highlight=False)
    if line := importance_sampling_line(trainer.args):
        console.print(line, highlight=False)
