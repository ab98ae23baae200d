"""``run_recipe``: check everything, then load, train (stage by stage), evaluate, save and report."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any

from trl_reasoning.config import redact
from trl_reasoning.config.recipe import Recipe
from trl_reasoning.console import console
from trl_reasoning.evaluation.runner import grader_identity
from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.lifecycle.hub import push_run, write_model_card
from trl_reasoning.lifecycle.report import print_results, write_plots
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run.build import build_trainer
from trl_reasoning.run.evaluation import eval_logger, heldout_evaluator, periodic_eval_callback
from trl_reasoning.run.notices import print_start_notices
from trl_reasoning.run.preflight import preflight
from trl_reasoning.run.provenance import provenance
from trl_reasoning.run.resume import resolve_resume
from trl_reasoning.run.stages import (refuse_fresh_optimizer_under_deepspeed, save_boundary, stage_overrides,
                                      stage_plan, wants_fresh_optimizer)


def run_recipe(recipe: Recipe, output_dir: str | None = None, resume: str | bool | None = None,
               pm: PluginManager | None = None, plots: bool = True) -> dict:
    """Run a recipe end to end and return its results (also written to ``<output_dir>/results.json``).

    ``plots``: write ``plots/*.png`` at the end (``trl-reason run --no-plots`` skips them; ``trl-reason report``
    writes them later from ``metrics.jsonl``)."""
    output_dir = str(output_dir or recipe.output_dir)
    recipe.output_dir = output_dir
    prepared, _ = preflight(recipe, pm, output_dir)  # every recipe problem, before any model loads
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    lock = checkpoints.lock_output_dir(output_dir)  # a second run into this directory exits 2 naming this one
    redact.write_text(Path(output_dir) / "recipe.resolved.yaml", recipe.to_yaml())
    started = time.time()
    evaluator = heldout_evaluator(prepared, output_dir)  # loads the benchmarks' rows: missing data stops here
    extra = []
    if evaluator is not None and recipe.eval.every_steps:
        extra.append(periodic_eval_callback(evaluator, recipe.eval.every_steps))
    checkpoint = resolve_resume(resume, output_dir)
    if checkpoint and os.environ.get("RANK", "0") == "0":
        console.print(f"resuming from {checkpoint} (step {checkpoints.checkpoint_step(checkpoint)})", highlight=False,
                      soft_wrap=True)
    stages, first = stage_plan(prepared, output_dir, checkpoint)
    trainer = build_trainer(prepared, output_dir, extra, stage_overrides(stages, first, checkpoint),
                            fresh_optimizer=wants_fresh_optimizer(stages, first, checkpoint))
    refuse_fresh_optimizer_under_deepspeed(trainer, stages, first)
    if extra:
        extra[0].on_result = eval_logger(trainer, output_dir)
    is_main = trainer.accelerator.is_main_process
    if evaluator is not None:
        evaluator.write = is_main  # every rank generates (sharded weights need all), the main one writes
    print_start_notices(trainer, recipe, is_main)
    if is_main:
        redact.write_json(Path(output_dir) / "provenance.json", provenance(
            recipe, getattr(trainer, "data_fingerprint", None), prepared.pm, trainer.accelerator.num_processes,
            checkpoint), indent=2)
    results: dict[str, Any] = {"recipe": recipe.source, "output_dir": output_dir}
    if evaluator is not None and recipe.eval.before and not resume:
        console.print("[bold]held-out evaluation before training[/]")
        results["before"] = evaluator(trainer.model, trainer.processing_class, step=trainer.state.global_step)
        eval_logger(trainer, output_dir)(trainer.state.global_step, results["before"])
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    for index in range(first + 1, len(stages)):  # run_stages: the next trainer starts from the boundary checkpoint
        boundary = save_boundary(trainer)
        trainer = None
        gc.collect()
        trainer = build_trainer(prepared, output_dir, extra, stage_overrides(stages, index, boundary),
                                fresh_optimizer=wants_fresh_optimizer(stages, index, boundary))
        train_output = trainer.train(resume_from_checkpoint=boundary)
    results["train"] = {"global_step": trainer.state.global_step, "train_runtime": train_output.metrics.get(
        "train_runtime"), "train_loss": train_output.training_loss}
    if evaluator is not None and recipe.eval.after:
        step = trainer.state.global_step
        logged = step in evaluator.history  # evaluated at this step already (every_steps): logged then
        console.print("[bold]held-out evaluation after training[/]")
        results["after"] = evaluator(trainer.model, trainer.processing_class, step=step)
        if not logged:
            eval_logger(trainer, output_dir)(step, results["after"])
    if evaluator is not None and evaluator.history:
        results["eval"] = evaluator.summary()
    if "after" in results:
        # `after` is always the last weights; choosing among checkpoints is `trl-reason eval --checkpoints`'s job.
        results["reported"] = {"checkpoint": "last", "global_step": trainer.state.global_step,
                               "rule": "the weights at the end of training (no best-checkpoint selection)",
                               "grader": grader_identity(), "generation_backend": "transformers"}
    results["plugin_state_keys"] = sorted(trainer.plugin_states())
    results["elapsed_s"] = round(time.time() - started, 1)
    final_dir = Path(output_dir) / "final"
    trainer.save_model(str(final_dir))  # every rank: DeepSpeed ZeRO-3 and FSDP gather the weights collectively
    if is_main:
        trainer.processing_class.save_pretrained(str(final_dir))
        redact.write_json(Path(output_dir) / "results.json", results, indent=2, default=str)
        if plots:
            write_plots(output_dir)
        print_results(results, trainer)
        finish_lifecycle(recipe, results, output_dir, prepared.pm)
    if lock is not None:
        lock.release()
    results["trainer"] = trainer
    return results


def finish_lifecycle(recipe: Recipe, results: dict, output_dir: str, pm: PluginManager) -> None:
    """Main process, after training: our model card replaces TRL's, then the Hub push the recipe asks for."""
    write_model_card(output_dir, recipe=recipe, pm=pm, results=results)
    if recipe.hub.push != "never" and recipe.hub.repo_id:
        try:
            results["hub"] = push_run(output_dir, recipe.hub.repo_id, private=recipe.hub.private, pm=pm)
        except Exception as exc:  # the run itself is done and on disk
            console.print(f"[red]push to {recipe.hub.repo_id} failed:[/] {type(exc).__name__}: {exc}\n"
                          f"retry with: trl-reason push {output_dir} --repo-id {recipe.hub.repo_id}")
