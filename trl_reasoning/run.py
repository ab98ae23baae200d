"""Running a recipe: validate everything first, then load, train, evaluate, report.

::

    from trl_reasoning.recipe import load_recipe
    from trl_reasoning.run import run_recipe
    results = run_recipe(load_recipe("recipes/quickstart.yaml", ["trainer.max_steps=2"]), output_dir="runs/qs")

Everything a recipe can get wrong (keys, types, plugin names, reward names, trainer fields) is checked by
``prepare`` before any model is loaded, so a typo costs a second, not a model load.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config_schema import ConfigError, check_type, unknown_key_error
from .plugins import PluginManager, load_module
from .recipe import Recipe

# Settings trl-reasoning chooses when a recipe does not: log every step (metrics.jsonl, the progress bar), no
# external loggers unless asked, our own progress bar instead of tqdm.
RUN_DEFAULTS = {"logging_steps": 1, "report_to": "none", "disable_tqdm": True, "save_strategy": "no"}


@dataclass
class PreparedRun:
    recipe: Recipe
    pm: PluginManager
    trainer_class: type
    config_class: type
    trainer_kwargs: dict
    reward_specs: list


def trainer_field_types(config_class: type) -> dict[str, Any]:
    import typing

    try:
        hints = typing.get_type_hints(config_class)
    except Exception:
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class) if f.init}


def prepare(recipe: Recipe, pm: PluginManager | None = None) -> PreparedRun:
    """Validate a recipe against the installed plugins, trainers and rewards; load nothing heavy."""
    pm = pm or PluginManager()
    pm.activate(recipe.plugins)
    trainers = pm.trainers()
    algorithm = recipe.algorithm
    if algorithm not in trainers:
        from .config_schema import nearest

        close = nearest(algorithm, trainers)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError("trainer.algorithm", f"unknown algorithm {algorithm!r}.{hint} Registered: "
                          f"{', '.join(sorted(trainers))} (plugins add more through register_trainers)")
    trainer_class, config_class = trainers[algorithm]
    fields = trainer_field_types(config_class)
    kwargs = {}
    for key, value in recipe.trainer.items():
        if key == "algorithm":
            continue
        if key not in fields:
            raise unknown_key_error("trainer", key, fields)
        if key in ("output_dir", "seed"):
            raise ConfigError(f"trainer.{key}", f"set the top-level `{key}` of the recipe instead")
        kwargs[key] = check_type(value, fields[key], f"trainer.{key}")
    registry = pm.rewards()
    specs = []
    for i, spec in enumerate(recipe.rewards):
        if spec.name in registry:
            factory = registry[spec.name]
        elif "." in spec.name or ":" in spec.name:
            try:
                factory = load_module(spec.name)
            except Exception as exc:
                raise ConfigError(f"rewards[{i}].name", f"cannot import {spec.name!r}: {exc}") from None
        else:
            from .config_schema import nearest

            close = nearest(spec.name, registry)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ConfigError(f"rewards[{i}].name", f"unknown reward {spec.name!r}.{hint} Registered: "
                              f"{', '.join(sorted(registry))}; or give a dotted import path (my_module.my_reward)")
        specs.append((spec, factory))
    return PreparedRun(recipe, pm, trainer_class, config_class, kwargs, specs)


def build_config(prepared: PreparedRun, output_dir: str, overrides: dict | None = None):
    recipe = prepared.recipe
    values = {**RUN_DEFAULTS, **prepared.trainer_kwargs, **(overrides or {}), "output_dir": output_dir,
              "seed": recipe.seed}
    import torch

    if not torch.cuda.is_available():
        values.setdefault("use_cpu", True)
        values.setdefault("bf16", False)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            values.setdefault("ddp_backend", "gloo")  # several CPU processes (torchrun) talk over gloo
    try:
        return prepared.config_class(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError("trainer", str(exc)) from None


def build_rewards(prepared: PreparedRun) -> list:
    funcs = []
    for spec, factory in prepared.reward_specs:
        func = factory(**spec.config) if isinstance(factory, type) or spec.config else _maybe_call(factory)
        func.weight = spec.weight
        funcs.append(func)
    for extra in prepared.pm.hook.reward_funcs(recipe=prepared.recipe):
        for func in extra or []:
            if not hasattr(func, "weight"):
                func.weight = 1.0
            funcs.append(func)
    if not funcs:
        raise ConfigError("rewards", "a run needs at least one reward (e.g. `- name: correctness`)")
    return funcs


def _maybe_call(factory):
    """A registered factory is called with no arguments; a plain reward function is used as it is."""
    import inspect

    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory
    return factory if "completions" in params else factory()


def provenance(recipe: Recipe, dataset_fingerprint: str | None, pm: PluginManager | None = None,
               world_size: int = 1, resumed_from: str | None = None) -> dict:
    from importlib import metadata

    versions = {}
    for dist in ("trl-reasoning", "trl", "transformers", "torch", "accelerate", "peft", "datasets", "latex2sympy2",
                 "pluggy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                  cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except Exception:
        revision = None
    import hashlib

    plugins = {}
    for name in (pm.active if pm is not None else recipe.plugins):
        info = pm.installed.get(name) if pm is not None else None
        plugins[name] = {"distribution": info.distribution if info else None,
                         "version": info.version if info else None,
                         "entry_point": info.entry_point if info else None}
    try:
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, timeout=5, cwd=Path(__file__).resolve().parent).stdout.strip())
    except Exception:
        dirty = None
    return {"command": sys.argv, "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "git_revision": revision, "git_dirty": dirty if revision else None,
            "data_fingerprint": dataset_fingerprint, "recipe_source": recipe.source,
            "recipe_sha256": hashlib.sha256(recipe.to_yaml().encode()).hexdigest(), "seed": recipe.seed,
            "plugins": plugins, "world_size": world_size, "resumed_from": resumed_from,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def build_trainer(prepared: PreparedRun, output_dir: str, extra_callbacks: list | None = None,
                  overrides: dict | None = None):
    """Load model, data and rewards and build the trainer (no training)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .data import fingerprint, load_train_dataset
    from .models import apply_lora, load_model
    from .trainers.callbacks import MetricsFileCallback, RichProgressCallback

    recipe = prepared.recipe
    if hasattr(prepared.trainer_class, "from_run"):  # not GRPO-shaped (sft, distill): the trainer builds itself
        callbacks = [MetricsFileCallback(Path(output_dir) / "metrics.jsonl"), RichProgressCallback(),
                     *(extra_callbacks or [])]
        trainer = prepared.trainer_class.from_run(prepared, output_dir, callbacks)
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        return trainer
    args = build_config(prepared, output_dir, overrides)
    rewards = build_rewards(prepared)
    if args.reward_weights is None:
        args.reward_weights = [float(getattr(f, "weight", 1.0)) for f in rewards]
    dataset = load_train_dataset(recipe.data)
    model, tokenizer = load_model(recipe.model.name_or_path, dtype=recipe.model.dtype, revision=recipe.model.revision,
                                  trust_remote_code=recipe.model.trust_remote_code,
                                  attn_implementation=recipe.model.attn_implementation)
    if recipe.model.lora is not None:
        model = apply_lora(model, recipe.model.lora)
    callbacks = [MetricsFileCallback(Path(output_dir) / "metrics.jsonl"), RichProgressCallback(),
                 *(extra_callbacks or [])]
    trainer = prepared.trainer_class(model=model, reward_funcs=rewards, args=args, train_dataset=dataset,
                                     processing_class=tokenizer, callbacks=callbacks, plugin_manager=prepared.pm,
                                     recipe=recipe)
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.data_fingerprint = fingerprint(dataset)
    return trainer


def run_recipe(recipe: Recipe, output_dir: str | None = None, resume: str | bool | None = None,
               pm: PluginManager | None = None) -> dict:
    """Run a recipe end to end and return its results (also written to ``<output_dir>/results.json``)."""
    from .progress import console
    from .report import print_results, write_plots

    output_dir = str(output_dir or recipe.output_dir)
    recipe.output_dir = output_dir
    prepared = prepare(recipe, pm)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "recipe.resolved.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
    started = time.time()
    evaluator = _heldout_evaluator(recipe)
    extra = []
    if evaluator is not None and recipe.eval.every_steps:
        from .evaluation.training import EvalCallback

        extra.append(EvalCallback(evaluator, recipe.eval.every_steps, None, at_start=False, at_end=False))
    checkpoint = _resolve_resume(resume, output_dir)
    stages, first = _stage_plan(prepared, output_dir, checkpoint)
    trainer = build_trainer(prepared, output_dir, extra, _stage_overrides(stages, first, checkpoint))
    if extra:
        extra[0].on_result = _eval_logger(trainer, output_dir)
    is_main = trainer.accelerator.is_main_process
    if is_main:
        (Path(output_dir) / "provenance.json").write_text(json.dumps(provenance(
            recipe, getattr(trainer, "data_fingerprint", None), prepared.pm, trainer.accelerator.num_processes,
            checkpoint),
            indent=2), encoding="utf-8")
    results: dict[str, Any] = {"recipe": recipe.source, "output_dir": output_dir}
    if evaluator is not None and recipe.eval.before and not resume:
        console.print("[bold]held-out evaluation before training[/]")
        results["before"] = evaluator(trainer.model, trainer.processing_class)
        _eval_logger(trainer, output_dir)(0, results["before"])
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    for index in range(first + 1, len(stages)):  # run_stages: the next trainer starts from the boundary checkpoint
        boundary = _save_boundary(trainer)
        trainer = None
        import gc

        gc.collect()
        trainer = build_trainer(prepared, output_dir, extra, _stage_overrides(stages, index, boundary))
        train_output = trainer.train(resume_from_checkpoint=boundary)
    results["train"] = {"global_step": trainer.state.global_step, "train_runtime": train_output.metrics.get(
        "train_runtime"), "train_loss": train_output.training_loss}
    if evaluator is not None and recipe.eval.after:
        console.print("[bold]held-out evaluation after training[/]")
        results["after"] = evaluator(trainer.model, trainer.processing_class)
        _eval_logger(trainer, output_dir)(trainer.state.global_step, results["after"])
    results["plugin_state_keys"] = sorted(trainer.plugin_states())
    results["elapsed_s"] = round(time.time() - started, 1)
    final_dir = Path(output_dir) / "final"
    trainer.save_model(str(final_dir))  # every rank: DeepSpeed ZeRO-3 and FSDP gather the weights collectively
    if is_main:
        trainer.processing_class.save_pretrained(str(final_dir))
        (Path(output_dir) / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        write_plots(output_dir)
        print_results(results, trainer)
        _finish_lifecycle(recipe, results, output_dir, prepared.pm)
    results["trainer"] = trainer
    return results


def _heldout_evaluator(recipe: Recipe):
    if not (recipe.eval.before or recipe.eval.after or recipe.eval.every_steps):
        return None
    from .data import load_test_rows

    rows = load_test_rows(recipe.data)[: recipe.eval.limit]
    if not rows:
        return None
    from .evaluation.training import HeldOutEvaluator

    return HeldOutEvaluator(rows, template=recipe.data.template, system_prompt=recipe.data.system_prompt,
                            user_template=recipe.data.user_template, few_shot=recipe.data.few_shot,
                            max_new_tokens=recipe.eval.max_new_tokens, batch_size=recipe.eval.batch_size)


def _stage_plan(prepared: PreparedRun, output_dir: str, checkpoint: str | None) -> tuple[list[dict], int]:
    """The trainer overrides of each stage (``run_stages``; one stage without overrides when no plugin splits the
    run) and the stage a run (or a resume from ``checkpoint``) starts in."""
    hook = prepared.pm.hook.run_stages
    stages = hook(recipe=prepared.recipe, args=build_config(prepared, output_dir)) if hook.get_hookimpls() else None
    if not stages:
        return [{}], 0
    ends = [stage.get("max_steps") for stage in stages]
    if any(not isinstance(end, int) or end < 1 for end in ends) or any(b <= a for a, b in zip(ends, ends[1:])):
        raise ConfigError("plugins", f"run_stages must give each stage an increasing max_steps, got {ends}")
    done = 0
    if checkpoint is not None:
        from transformers.trainer import TRAINER_STATE_NAME

        state = Path(checkpoint) / TRAINER_STATE_NAME
        done = json.loads(state.read_text(encoding="utf-8"))["global_step"] if state.exists() else 0
    first = next((i for i, end in enumerate(ends) if end > done), len(stages) - 1)
    return stages, first


def _stage_overrides(stages: list[dict], index: int, checkpoint: str | None) -> dict:
    """A later stage's trainer starts its sampler afresh from the checkpoint it resumes (``ignore_data_skip``)."""
    if index > 0 and checkpoint is not None:
        return {**stages[index], "ignore_data_skip": True}
    return dict(stages[index])


def _save_boundary(trainer) -> str:
    """Save a checkpoint at a stage boundary (all ranks) and return its path."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    trainer._save_checkpoint(trainer.model, trial=None)
    return os.path.join(trainer.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}")


def _eval_logger(trainer, output_dir: str):
    from .trainers.callbacks import MetricsFileCallback

    writer = MetricsFileCallback(Path(output_dir) / "metrics.jsonl")

    def log(step: int, result: dict) -> None:
        if trainer.accelerator.is_main_process:
            writer.write({"step": step, "time": time.time(), **{f"heldout/{k}": v for k, v in result.items()}})

    return log


def _finish_lifecycle(recipe: Recipe, results: dict, output_dir: str, pm: PluginManager) -> None:
    """Main process, after training: our model card replaces TRL's, then the Hub push the recipe asks for."""
    from .hub import push_run, write_model_card

    write_model_card(output_dir, recipe=recipe, pm=pm, results=results)
    if recipe.hub.push != "never" and recipe.hub.repo_id:
        try:
            results["hub"] = push_run(output_dir, recipe.hub.repo_id, private=recipe.hub.private, pm=pm)
        except Exception as exc:  # the run itself is done and on disk
            from .progress import console

            console.print(f"[red]push to {recipe.hub.repo_id} failed:[/] {type(exc).__name__}: {exc}\n"
                          f"retry with: trl-reason push {output_dir} --repo-id {recipe.hub.repo_id}")


def _resolve_resume(resume, output_dir: str):
    """``--resume``: the newest complete checkpoint of the output dir, or the given one (see checkpoints.py)."""
    from . import checkpoints

    if not resume:
        return None
    if resume is True or resume == "latest":
        last = checkpoints.latest_checkpoint(output_dir)
        if last is None:
            partial = checkpoints.incomplete_checkpoints(output_dir)
            foreign = checkpoints.list_checkpoints(output_dir, complete_only=False)
            hint = (f" ({len(partial)} interrupted save(s) under {checkpoints.STAGING_DIR}/ are never resumed)"
                    if partial else "")
            if foreign:
                hint += f"; {', '.join(foreign)} lack {checkpoints.META_FILE}: pass one with --resume PATH"
            raise ConfigError("--resume", f"no complete checkpoint-* directory in {output_dir} to resume from{hint}")
        return last
    if not os.path.isdir(resume):
        raise ConfigError("--resume", f"checkpoint not found: {resume}")
    if checkpoints.checkpoint_step(os.path.basename(os.path.normpath(resume))) is None or \
            checkpoints.STAGING_DIR in Path(resume).parts:
        raise ConfigError("--resume", f"{resume} is not a complete checkpoint-<step> directory")
    if not checkpoints.is_complete(resume):
        from .progress import console

        console.print(f"[yellow]warning:[/] {resume} has no {checkpoints.META_FILE} (not written by trl-reasoning): "
                      "resuming without the data and recipe checks and without plugin state")
    return resume
