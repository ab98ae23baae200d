"""Held-out evaluation inside a run (the recipe's ``eval`` section): before, every N steps, after; each result
also logged to ``metrics.jsonl`` as ``heldout/<metric>``. The evaluator applies the active plugins'
``inference_model`` hook, as ``trl-reason eval --recipe`` does."""

from __future__ import annotations

import time
from pathlib import Path

from trl_reasoning.evaluation.recipe_eval import RecipeEvaluation
from trl_reasoning.run.prepare import PreparedRun


def heldout_evaluator(prepared: PreparedRun, output_dir: str) -> RecipeEvaluation | None:
    """The recipe's evaluation (``eval`` section: the data's held-out split and named benchmarks) when the run
    evaluates at all; the same runs ``trl-reason eval --recipe`` evaluates a checkpoint with."""
    recipe, plan = prepared.recipe, prepared.eval_plan
    if plan is None or not plan.benchmarks or not (recipe.eval.before or recipe.eval.after or recipe.eval.every_steps):
        return None
    return RecipeEvaluation(recipe, plan, prepared.pm, output_dir=output_dir)


def eval_logger(trainer, output_dir: str):
    """``log(step, result)``: a held-out result as one ``metrics.jsonl`` line, on the main process."""
    from trl_reasoning.trainers.callbacks import MetricsFileCallback  # heavy: transformers

    writer = MetricsFileCallback(Path(output_dir) / "metrics.jsonl")

    def log(step: int, result: dict) -> None:
        if trainer.accelerator.is_main_process:
            writer.write({"step": step, "time": time.time(), **{f"heldout/{k}": v for k, v in result.items()}})

    return log


def periodic_eval_callback(evaluator: RecipeEvaluation, every_steps: int):
    """The callback that evaluates every ``every_steps`` optimizer steps (its ``on_result`` set once the trainer
    exists)."""
    from trl_reasoning.evaluation.training import EvalCallback  # heavy: transformers

    return EvalCallback(evaluator, every_steps, None, at_start=False, at_end=False)
