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


def build_config(prepared: PreparedRun, output_dir: str):
    recipe = prepared.recipe
    values = {**RUN_DEFAULTS, **prepared.trainer_kwargs, "output_dir": output_dir, "seed": recipe.seed}
    import torch

    if not torch.cuda.is_available():
        values.setdefault("use_cpu", True)
        values.setdefault("bf16", False)
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


def provenance(recipe: Recipe, dataset_fingerprint: str | None) -> dict:
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
    return {"command": sys.argv, "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "git_revision": revision, "data_fingerprint": dataset_fingerprint,
            "recipe_source": recipe.source, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def build_trainer(prepared: PreparedRun, output_dir: str, extra_callbacks: list | None = None):
    """Load model, data and rewards and build the trainer (no training)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from .data import fingerprint, load_train_dataset
    from .models import apply_lora, load_model
    from .trainers.callbacks import MetricsFileCallback, RichProgressCallback

    recipe = prepared.recipe
    args = build_config(prepared, output_dir)
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

        extra.append(EvalCallback(evaluator, recipe.eval.every_steps, None))
    trainer = build_trainer(prepared, output_dir, extra)
    if extra:
        extra[0].on_result = _eval_logger(trainer, output_dir)
    is_main = trainer.accelerator.is_main_process
    if is_main:
        (Path(output_dir) / "provenance.json").write_text(
            json.dumps(provenance(recipe, trainer.data_fingerprint), indent=2), encoding="utf-8")
    results: dict[str, Any] = {"recipe": recipe.source, "output_dir": output_dir}
    if evaluator is not None and recipe.eval.before and not resume:
        console.print("[bold]held-out evaluation before training[/]")
        results["before"] = evaluator(trainer.model, trainer.processing_class)
        _eval_logger(trainer, output_dir)(0, results["before"])
    checkpoint = _resolve_resume(resume, output_dir)
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    results["train"] = {"global_step": trainer.state.global_step, "train_runtime": train_output.metrics.get(
        "train_runtime"), "train_loss": train_output.training_loss}
    if evaluator is not None and recipe.eval.after:
        console.print("[bold]held-out evaluation after training[/]")
        results["after"] = evaluator(trainer.model, trainer.processing_class)
        _eval_logger(trainer, output_dir)(trainer.state.global_step, results["after"])
    results["plugin_state_keys"] = sorted(trainer.plugin_states())
    results["elapsed_s"] = round(time.time() - started, 1)
    if is_main:
        final_dir = Path(output_dir) / "final"
        trainer.save_model(str(final_dir))
        trainer.processing_class.save_pretrained(str(final_dir))
        (Path(output_dir) / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        write_plots(output_dir)
        print_results(results, trainer)
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
                            user_template=recipe.data.user_template, max_new_tokens=recipe.eval.max_new_tokens,
                            batch_size=recipe.eval.batch_size)


def _eval_logger(trainer, output_dir: str):
    from .trainers.callbacks import MetricsFileCallback

    writer = MetricsFileCallback(Path(output_dir) / "metrics.jsonl")

    def log(step: int, result: dict) -> None:
        if trainer.accelerator.is_main_process:
            writer.write({"step": step, "time": time.time(), **{f"heldout/{k}": v for k, v in result.items()}})

    return log


def _resolve_resume(resume, output_dir: str):
    if not resume:
        return None
    if resume is True or resume == "latest":
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if last is None:
            raise ConfigError("--resume", f"no checkpoint-* directory in {output_dir} to resume from")
        return last
    if not os.path.isdir(resume):
        raise ConfigError("--resume", f"checkpoint not found: {resume}")
    return resume
