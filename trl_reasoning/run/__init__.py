"""Running a recipe: validate everything first, then load, train, evaluate, report.

::

    from trl_reasoning.config.recipe import load_recipe
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

from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.config import redact
from trl_reasoning.config.schema import ConfigError, check_bounds, check_type, unknown_key_error
from trl_reasoning.plugins.manager import PluginManager, load_module
from trl_reasoning.config.recipe import Recipe

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
    eval_plan: Any = None  # evaluation.recipe_eval.EvalPlan: the recipe's `eval` section, checked


def trainer_field_types(config_class: type) -> dict[str, Any]:
    import typing

    try:
        hints = typing.get_type_hints(config_class)
    except Exception:
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class) if f.init}


def prepare(recipe: Recipe, pm: PluginManager | None = None, allow_imports: str | None = None) -> PreparedRun:
    """Validate a recipe against the installed plugins, trainers and rewards; load nothing heavy.

    ``allow_imports``: module prefixes a recipe's dotted import paths may name (``"*"``: any; default
    ``$TRL_REASONING_ALLOW_IMPORTS``, which ``trl-reason run --allow-imports`` sets). Without it a recipe is data: a
    dotted path is refused before anything is imported (see ``resolve_reward``).
    """
    pm = pm or PluginManager()
    pm.activate(recipe.plugins)
    trainers = pm.trainers()
    algorithm = recipe.algorithm
    if algorithm not in trainers:
        from trl_reasoning.config.schema import nearest

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
        check_bounds(kwargs[key], trainer_field_bounds(config_class, key), f"trainer.{key}")
    check_trainer_relations(config_class, kwargs)
    check_remote_code(recipe, kwargs)
    check_data_options(recipe)
    registry = pm.rewards()
    allowed = allowed_import_prefixes(allow_imports)
    specs = []
    for i, spec in enumerate(recipe.rewards):
        factory = resolve_reward(spec.name, registry, allowed, f"rewards[{i}].name")
        check_reward_config(factory, spec.config, f"rewards[{i}].config", spec.name)
        specs.append((spec, factory))
    from trl_reasoning.evaluation.recipe_eval import plan_eval

    eval_plan = plan_eval(recipe, pm)  # benchmarks, protocol overrides and plugin eval options, no rows loaded
    return PreparedRun(recipe, pm, trainer_class, config_class, kwargs, specs, eval_plan)


# -- validation helpers of `prepare` ----------------------------------------------------------------------------------

ALLOW_IMPORTS_ENV = "TRL_REASONING_ALLOW_IMPORTS"


def trainer_field_bounds(config_class: type, key: str) -> dict:
    """The range of a trainer field: its own ``bounds`` metadata (trl-reasoning's config classes and plugins'),
    else ``TRL_FIELD_BOUNDS`` for TRL's fields."""
    from trl_reasoning.config.schema import TRL_FIELD_BOUNDS

    for f in dataclasses.fields(config_class):
        if f.name == key and f.metadata.get("bounds"):
            return f.metadata
    return {"bounds": TRL_FIELD_BOUNDS[key]} if key in TRL_FIELD_BOUNDS else {}


def _is_core_grpo_config(config_class: type) -> bool:
    """The core's GRPO config (or TRL's own): a plugin's subclass (PPO allows one generation) checks its own
    relations in ``__post_init__``, which runs before any model loads too."""
    from trl_reasoning.trainers.grpo import ReasoningGRPOConfig

    return config_class is ReasoningGRPOConfig or (config_class.__name__ == "GRPOConfig"
                                                   and config_class.__module__.startswith("trl."))


def check_trainer_relations(config_class: type, kwargs: dict) -> None:
    """Relations between TRL fields that TRL checks late (or by dividing by zero): GRPO's generation batch holds
    whole groups of ``num_generations`` completions."""
    defaults = {f.name: f.default for f in dataclasses.fields(config_class) if f.default is not dataclasses.MISSING}

    def value(name):
        return kwargs.get(name, defaults.get(name))

    if not _is_core_grpo_config(config_class):
        return
    generations = value("num_generations")
    if generations is not None and generations < 2:
        raise ConfigError("trainer.num_generations", f"GRPO compares completions of the same prompt, so it needs at "
                          f"least 2 per prompt, got {generations}")
    per_device, accumulation = value("per_device_train_batch_size"), value("gradient_accumulation_steps")
    steps, batch = value("steps_per_generation"), value("generation_batch_size")
    if steps is not None and batch is not None:
        raise ConfigError("trainer.generation_batch_size", "set generation_batch_size or steps_per_generation, not "
                          "both (one follows from the other)")
    world = max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))
    if batch is None and None not in (per_device, accumulation, generations):
        batch = per_device * world * (steps or accumulation)
        how = (f"per_device_train_batch_size ({per_device}) x processes ({world}) x "
               f"{'steps_per_generation' if steps else 'gradient_accumulation_steps'} ({steps or accumulation})")
    else:
        how = f"generation_batch_size ({batch})"
    if batch is not None and generations and batch % generations:
        raise ConfigError("trainer.num_generations", f"each generation batch holds whole groups, but {how} = "
                          f"{batch} is not divisible by num_generations ({generations}); e.g. set "
                          f"per_device_train_batch_size to a multiple of {generations}")


def check_data_options(recipe: Recipe) -> None:
    """Generator options of embedded data: names, types and ranges, before any row is generated."""
    if recipe.data.train != "embedded:arithmetic":
        return
    from trl_reasoning.config.schema import build_dataclass
    from trl_reasoning.data import ArithmeticOptions

    options = build_dataclass(ArithmeticOptions, recipe.data.options, "data.options")
    checks = [("min_operand", options.min_operand >= 0, "must be >= 0"),
              ("max_operand", options.max_operand >= options.min_operand,
               f"must be >= min_operand ({options.min_operand})"),
              ("terms", options.terms >= 1, "must be >= 1"),
              ("n_train", options.n_train >= 1, "must be >= 1"),
              ("n_test", options.n_test >= 0, "must be >= 0"),
              ("operations", len(options.operations) >= 1 and set(options.operations) <= {"+", "-", "*"},
               "must be a non-empty list of +, - and *")]
    for key, ok, must in checks:
        if not ok:
            raise ConfigError(f"data.options.{key}", f"{must}, got {getattr(options, key)!r}")


TRUST_REMOTE_CODE_ENV = "TRL_REASONING_TRUST_REMOTE_CODE"


def check_remote_code(recipe: Recipe, trainer_kwargs: dict) -> None:
    """``trust_remote_code`` runs a model repository's Python code: a recipe asks for it, the user grants it
    (``trl-reason run --trust-remote-code``, or ``$TRL_REASONING_TRUST_REMOTE_CODE=1``)."""
    if os.environ.get(TRUST_REMOTE_CODE_ENV, "") not in ("", "0", "false"):
        return
    init_kwargs = trainer_kwargs.get("model_init_kwargs") or {}
    for path, wanted in (("model.trust_remote_code", recipe.model.trust_remote_code),
                         ("trainer.model_init_kwargs.trust_remote_code",
                          isinstance(init_kwargs, dict) and init_kwargs.get("trust_remote_code"))):
        if wanted:
            raise ConfigError(path, f"runs the Python code of the model repository ({recipe.model.name_or_path}); "
                              "a recipe cannot turn that on by itself: add --trust-remote-code to the command if "
                              "you trust that repository")


def allowed_import_prefixes(allow_imports: str | None = None) -> tuple[str, ...]:
    """``("*",)``, ``("my_rewards", "lab.rewards")`` or ``()`` from ``--allow-imports`` / the environment."""
    raw = allow_imports if allow_imports is not None else os.environ.get(ALLOW_IMPORTS_ENV, "")
    return tuple(part.strip() for part in str(raw).split(",") if part.strip())


def _import_allowed(dotted: str, allowed: tuple[str, ...]) -> bool:
    module = dotted.partition(":")[0]
    return "*" in allowed or any(module == prefix or module.startswith(prefix.rstrip(".") + ".")
                                 for prefix in allowed)


def _qualified_names(obj) -> set[str]:
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return {f"{module}.{name}", f"{module}:{name}"} if module and name else set()


def _declares_reward_signature(obj) -> bool:
    """A TRL reward: a function, or a class whose instances are called, taking ``completions`` by name."""
    import inspect

    target = obj.__call__ if isinstance(obj, type) else obj
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        return False
    try:
        return "completions" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def resolve_reward(name: str, registry: dict, allowed: tuple[str, ...], path: str):
    """A reward factory from a registered name or, when the user allows it, a dotted import path.

    A dotted path that names a registered reward's own class (``trl_reasoning.rewards.correctness.CorrectnessReward``)
    resolves to it without importing anything. Any other dotted path is refused unless its module is allowed
    (``--allow-imports``), and is then accepted only if it declares the reward signature (``completions``).
    """
    if name in registry:
        return registry[name]
    if "." not in name and ":" not in name:
        from trl_reasoning.config.schema import nearest

        close = nearest(name, registry)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(path, f"unknown reward {name!r}.{hint} Registered: {', '.join(sorted(registry))}; or "
                          "give a dotted import path (my_module.my_reward) and run with --allow-imports my_module")
    for registered, factory in registry.items():
        if name in _qualified_names(factory):
            return factory
    if not _import_allowed(name, allowed):
        module = name.partition(":")[0].rpartition(".")[0] if ":" not in name else name.partition(":")[0]
        raise ConfigError(path, f"{name!r} is an import path, and a recipe is data: it cannot run code unless you "
                          f"allow it. Use a registered reward ({', '.join(sorted(registry))}), or run with "
                          f"--allow-imports {module.split('.')[0] or name} if you trust this recipe")
    try:
        factory = load_module(name)
    except Exception as exc:
        raise ConfigError(path, f"cannot import {name!r}: {type(exc).__name__}: {exc}") from None
    if not _declares_reward_signature(factory):
        raise ConfigError(path, f"{name!r} is not a reward: a reward is a function, or a class with __call__, "
                          "taking (prompts, completions, completion_ids, **columns) and returning a list of floats")
    return factory


def check_reward_config(factory, config: dict, path: str, name: str) -> None:
    """``rewards[i].config`` against the factory's signature: names, required options and annotated types."""
    import inspect
    import typing

    if not isinstance(factory, type) and _declares_reward_signature(factory):
        if config:
            raise ConfigError(path, f"{name!r} is a reward function itself, it takes no config (its keyword "
                              "arguments come from the dataset's columns); remove `config`")
        return
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    named = {k: p for k, p in params.items() if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                            inspect.Parameter.KEYWORD_ONLY)}
    for key in config:
        if key not in named:
            raise unknown_key_error(path, key, named) if named else ConfigError(
                f"{path}.{key}", f"reward {name!r} takes no options; remove `config`")
    missing = [k for k, p in named.items() if p.default is inspect.Parameter.empty and k not in config]
    if missing:
        raise ConfigError(path, f"reward {name!r} needs option(s) {', '.join(missing)}")
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:
        hints = {}
    for key, value in config.items():
        if key in hints:
            check_type(value, hints[key], f"{path}.{key}")


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

    from trl_reasoning.data import fingerprint, load_train_dataset
    from trl_reasoning.models import apply_lora, load_model
    from trl_reasoning.trainers.callbacks import MetricsFileCallback, RichProgressCallback

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


def check_vllm_available(args) -> None:
    """``trainer.use_vllm: true`` (every paper recipe) on a machine without vLLM: refuse before the model loads
    (TRL would raise its ImportError only after loading it)."""
    import importlib.util

    if getattr(args, "use_vllm", False) and importlib.util.find_spec("vllm") is None:
        raise ConfigError("trainer.use_vllm", "vLLM is not installed in this environment. Either install it on a "
                          "GPU machine (pip install 'trl-reasoning[vllm]'), or generate with transformers: "
                          "--set trainer.use_vllm=false")


def run_recipe(recipe: Recipe, output_dir: str | None = None, resume: str | bool | None = None,
               pm: PluginManager | None = None) -> dict:
    """Run a recipe end to end and return its results (also written to ``<output_dir>/results.json``)."""
    from trl_reasoning.console import console
    from trl_reasoning.lifecycle.report import print_results, write_plots

    output_dir = str(output_dir or recipe.output_dir)
    recipe.output_dir = output_dir
    prepared = prepare(recipe, pm)
    args = build_config(prepared, output_dir)
    prepared.pm.hook.validate_run(recipe=recipe, args=args)  # before any model loads
    check_vllm_available(args)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    lock = checkpoints.lock_output_dir(output_dir)  # a second run into this directory exits 2 naming this one
    redact.write_text(Path(output_dir) / "recipe.resolved.yaml", recipe.to_yaml())
    started = time.time()
    evaluator = _heldout_evaluator(prepared, output_dir)  # loads the benchmarks' rows: missing data stops here
    extra = []
    if evaluator is not None and recipe.eval.every_steps:
        from trl_reasoning.evaluation.training import EvalCallback

        extra.append(EvalCallback(evaluator, recipe.eval.every_steps, None, at_start=False, at_end=False))
    checkpoint = _resolve_resume(resume, output_dir)
    if checkpoint and os.environ.get("RANK", "0") == "0":
        console.print(f"resuming from {checkpoint} (step {checkpoints.checkpoint_step(checkpoint)})", highlight=False,
                      soft_wrap=True)
    stages, first = _stage_plan(prepared, output_dir, checkpoint)
    trainer = build_trainer(prepared, output_dir, extra, _stage_overrides(stages, first, checkpoint))
    _start_fresh_if_asked(trainer, stages, first, checkpoint)
    if extra:
        extra[0].on_result = _eval_logger(trainer, output_dir)
    is_main = trainer.accelerator.is_main_process
    if evaluator is not None:
        evaluator.write = is_main  # every rank generates (sharded weights need all), the main one writes
    _warn_master_weights(trainer, recipe, is_main)
    if is_main and (line := importance_sampling_line(trainer.args)):
        from trl_reasoning.console import console

        console.print(line, highlight=False)
    if is_main:
        redact.write_json(Path(output_dir) / "provenance.json", provenance(
            recipe, getattr(trainer, "data_fingerprint", None), prepared.pm, trainer.accelerator.num_processes,
            checkpoint), indent=2)
    results: dict[str, Any] = {"recipe": recipe.source, "output_dir": output_dir}
    if evaluator is not None and recipe.eval.before and not resume:
        console.print("[bold]held-out evaluation before training[/]")
        results["before"] = evaluator(trainer.model, trainer.processing_class, step=trainer.state.global_step)
        _eval_logger(trainer, output_dir)(trainer.state.global_step, results["before"])
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    for index in range(first + 1, len(stages)):  # run_stages: the next trainer starts from the boundary checkpoint
        boundary = _save_boundary(trainer)
        trainer = None
        import gc

        gc.collect()
        trainer = build_trainer(prepared, output_dir, extra, _stage_overrides(stages, index, boundary))
        _start_fresh_if_asked(trainer, stages, index, boundary)
        train_output = trainer.train(resume_from_checkpoint=boundary)
    results["train"] = {"global_step": trainer.state.global_step, "train_runtime": train_output.metrics.get(
        "train_runtime"), "train_loss": train_output.training_loss}
    if evaluator is not None and recipe.eval.after:
        step = trainer.state.global_step
        logged = step in evaluator.history  # evaluated at this step already (every_steps): logged then
        console.print("[bold]held-out evaluation after training[/]")
        results["after"] = evaluator(trainer.model, trainer.processing_class, step=step)
        if not logged:
            _eval_logger(trainer, output_dir)(step, results["after"])
    if evaluator is not None and evaluator.history:
        results["eval"] = evaluator.summary()
    if "after" in results:
        from trl_reasoning.evaluation.runner import grader_identity

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
        write_plots(output_dir)
        print_results(results, trainer)
        _finish_lifecycle(recipe, results, output_dir, prepared.pm)
    if lock is not None:
        lock.release()
    results["trainer"] = trainer
    return results


def _heldout_evaluator(prepared: PreparedRun, output_dir: str):
    """The recipe's evaluation (``eval`` section: the data's held-out split and named benchmarks) when the run
    evaluates at all; the same runs ``trl-reason eval --recipe`` evaluates a checkpoint with."""
    recipe, plan = prepared.recipe, prepared.eval_plan
    if plan is None or not plan.benchmarks or not (recipe.eval.before or recipe.eval.after or recipe.eval.every_steps):
        return None
    from trl_reasoning.evaluation.recipe_eval import RecipeEvaluation

    return RecipeEvaluation(recipe, plan, prepared.pm, output_dir=output_dir)


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
    done = (_trained_steps(checkpoint) or 0) if checkpoint is not None else 0
    first = next((i for i, end in enumerate(ends) if end > done), len(stages) - 1)
    return stages, first


def _stage_overrides(stages: list[dict], index: int, checkpoint: str | None) -> dict:
    """A later stage's trainer starts its sampler afresh from the checkpoint it resumes (``ignore_data_skip``)."""
    overrides = {k: v for k, v in stages[index].items() if k not in STAGE_KEYS}
    if index > 0 and checkpoint is not None:
        return {**overrides, "ignore_data_skip": True}
    return overrides


STAGE_KEYS = ("fresh_optimizer",)  # run_stages keys that are not trainer-config fields


def _trained_steps(checkpoint: str) -> int | None:
    """The global step a checkpoint holds (TRL's ``trainer_state.json``), or ``None`` without that file."""
    from transformers.trainer import TRAINER_STATE_NAME

    state = Path(checkpoint) / TRAINER_STATE_NAME
    return json.loads(state.read_text(encoding="utf-8"))["global_step"] if state.exists() else None


def _start_fresh_if_asked(trainer, stages: list[dict], index: int, checkpoint: str | None) -> None:
    """``fresh_optimizer``: a stage whose trainer resumes from the checkpoint at its first step (the boundary, in
    the run or on ``--resume``) starts with a new optimizer and LR scheduler; a resume inside the stage restores
    them as usual. Refused under DeepSpeed (checked when the first trainer is built, before training)."""
    if trainer.is_deepspeed_enabled and any(stage.get("fresh_optimizer") for stage in stages[index:]):
        raise ConfigError("plugins", "a stage asks for a fresh optimizer (fresh_optimizer), but DeepSpeed restores "
                          "the optimizer together with the weights; launch without DeepSpeed or turn the plugin's "
                          "fresh-optimizer setting off")
    if index == 0 or checkpoint is None or not stages[index].get("fresh_optimizer"):
        return
    if _trained_steps(checkpoint) == stages[index - 1]["max_steps"]:
        trainer.fresh_optimizer = True  # read by the trainers' _load_optimizer_and_scheduler


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


def _warn_master_weights(trainer, recipe: Recipe, is_main: bool) -> None:
    """Once per run, before training: trainable bf16/fp16 weights without fp32 master weights (``models.py``)."""
    from trl_reasoning.models import master_weight_warning

    message = master_weight_warning(trainer, recipe)
    if message and is_main:
        from trl_reasoning.console import console

        console.print(f"[bold yellow]warning:[/] {message}", highlight=False)


def _save_boundary(trainer) -> str:
    """Save a checkpoint at a stage boundary (all ranks) and return its path."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    trainer._save_checkpoint(trainer.model, trial=None)
    return os.path.join(trainer.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{trainer.state.global_step}")


def _eval_logger(trainer, output_dir: str):
    from trl_reasoning.trainers.callbacks import MetricsFileCallback

    writer = MetricsFileCallback(Path(output_dir) / "metrics.jsonl")

    def log(step: int, result: dict) -> None:
        if trainer.accelerator.is_main_process:
            writer.write({"step": step, "time": time.time(), **{f"heldout/{k}": v for k, v in result.items()}})

    return log


def _finish_lifecycle(recipe: Recipe, results: dict, output_dir: str, pm: PluginManager) -> None:
    """Main process, after training: our model card replaces TRL's, then the Hub push the recipe asks for."""
    from trl_reasoning.lifecycle.hub import push_run, write_model_card

    write_model_card(output_dir, recipe=recipe, pm=pm, results=results)
    if recipe.hub.push != "never" and recipe.hub.repo_id:
        try:
            results["hub"] = push_run(output_dir, recipe.hub.repo_id, private=recipe.hub.private, pm=pm)
        except Exception as exc:  # the run itself is done and on disk
            from trl_reasoning.console import console

            console.print(f"[red]push to {recipe.hub.repo_id} failed:[/] {type(exc).__name__}: {exc}\n"
                          f"retry with: trl-reason push {output_dir} --repo-id {recipe.hub.repo_id}")


def _resolve_resume(resume, output_dir: str):
    """``--resume``: the newest complete checkpoint of the output dir, or the given one (see checkpoints.py)."""
    from trl_reasoning.lifecycle import checkpoints

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
        from trl_reasoning.console import console

        console.print(f"[yellow]warning:[/] {resume} has no {checkpoints.META_FILE} (not written by trl-reasoning): "
                      "resuming without the data and recipe checks and without plugin state")
    return resume
