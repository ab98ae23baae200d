"""The checks ``prepare`` runs on a recipe before anything heavy loads: trainer fields and their relations, the
generator options of embedded data, remote code, reward names and their config, vLLM.

Each check raises ``ConfigError`` (``ConfigErrors`` for several problems found at once) with the recipe key path
and what would be right; ``prepare`` collects them all (``trl-reason validate`` reports every one).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import os
import typing
from typing import Any

from trl_reasoning.config.recipe import ALLOW_IMPORTS_ENV, TRUST_REMOTE_CODE_ENV, Recipe
from trl_reasoning.config.schema import (TRL_FIELD_BOUNDS, ConfigError, ErrorCollector, build_dataclass,
                                        check_bounds, check_type, nearest, unknown_key_error)
from trl_reasoning.data.arithmetic import ArithmeticOptions
from trl_reasoning.plugins.manager import load_module


# -- trainer fields ------------------------------------------------------------------------------------------------


def trainer_field_types(config_class: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(config_class)
    except Exception:  # a forward reference TRL does not resolve: the field is then checked as Any
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class) if f.init}


def trainer_field_bounds(config_class: type, key: str) -> dict:
    """The range of a trainer field: its own ``bounds`` metadata (trl-reasoning's config classes and plugins'),
    else ``TRL_FIELD_BOUNDS`` for TRL's fields."""
    for f in dataclasses.fields(config_class):
        if f.name == key and f.metadata.get("bounds"):
            return f.metadata
    return {"bounds": TRL_FIELD_BOUNDS[key]} if key in TRL_FIELD_BOUNDS else {}


def check_trainer_fields(recipe: Recipe, config_class: type) -> dict:
    """``trainer:`` keys by name, type and range against the algorithm's config class; the checked kwargs."""
    fields = trainer_field_types(config_class)
    kwargs = {}
    errors = ErrorCollector()
    for key, value in recipe.trainer.items():
        if key == "algorithm":
            continue
        if key not in fields:
            errors.add(unknown_key_error("trainer", key, fields))
            continue
        if key in ("output_dir", "seed"):
            errors.add(ConfigError(f"trainer.{key}", f"set the top-level `{key}` of the recipe instead"))
            continue
        with errors.collect():
            checked = check_type(value, fields[key], f"trainer.{key}")
            check_bounds(checked, trainer_field_bounds(config_class, key), f"trainer.{key}")
            kwargs[key] = checked
    errors.raise_if_any()
    return kwargs


def _is_core_grpo_config(config_class: type) -> bool:
    """The core's GRPO config (or TRL's own): a plugin's subclass (PPO allows one generation) checks its own
    relations in ``__post_init__``, which runs before any model loads too."""
    from trl_reasoning.trainers.grpo import ReasoningGRPOConfig  # heavy (TRL); loaded already by the registry

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
    errors = ErrorCollector()
    generations = value("num_generations")
    if generations is not None and generations < 2:
        errors.add(ConfigError("trainer.num_generations", f"GRPO compares completions of the same prompt, so it "
                               f"needs at least 2 per prompt, got {generations}"))
    per_device, accumulation = value("per_device_train_batch_size"), value("gradient_accumulation_steps")
    steps, batch = value("steps_per_generation"), value("generation_batch_size")
    if steps is not None and batch is not None:
        errors.add(ConfigError("trainer.generation_batch_size", "set generation_batch_size or steps_per_generation, "
                               "not both (one follows from the other)"))
        errors.raise_if_any()
    world = max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))
    if batch is None and None not in (per_device, accumulation, generations):
        batch = per_device * world * (steps or accumulation)
        how = (f"per_device_train_batch_size ({per_device}) x processes ({world}) x "
               f"{'steps_per_generation' if steps else 'gradient_accumulation_steps'} ({steps or accumulation})")
    else:
        how = f"generation_batch_size ({batch})"
    if batch is not None and generations and batch % generations:
        errors.add(ConfigError("trainer.num_generations", f"each generation batch holds whole groups, but {how} = "
                               f"{batch} is not divisible by num_generations ({generations}); e.g. set "
                               f"per_device_train_batch_size to a multiple of {generations}"))
    errors.raise_if_any()


# -- data, remote code ---------------------------------------------------------------------------------------------


def check_data_options(recipe: Recipe) -> None:
    """Generator options of embedded data: names, types and ranges, before any row is generated."""
    if recipe.data.train != "embedded:arithmetic":
        if recipe.data.options:
            raise ConfigError("data.options", f"only embedded:arithmetic takes generator options; data.train is "
                                              f"{recipe.data.train!r}: remove data.options")
        return
    build_dataclass(ArithmeticOptions, recipe.data.options, "data.options")  # ranges: ArithmeticOptions' own


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


def check_vllm_available(args) -> None:
    """``trainer.use_vllm: true`` (every paper recipe) on a machine without vLLM: refuse before the model loads
    (TRL would raise its ImportError only after loading it)."""
    if getattr(args, "use_vllm", False) and importlib.util.find_spec("vllm") is None:
        raise ConfigError("trainer.use_vllm", "vLLM is not installed in this environment. Either install it on a "
                          "GPU machine (pip install 'trl-reasoning[vllm]'), or generate with transformers: "
                          "--set trainer.use_vllm=false")


# -- rewards -------------------------------------------------------------------------------------------------------


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


def declares_reward_signature(obj) -> bool:
    """A TRL reward: a function, or a class whose instances are called, taking ``completions`` by name."""
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
    if not declares_reward_signature(factory):
        raise ConfigError(path, f"{name!r} is not a reward: a reward is a function, or a class with __call__, "
                          "taking (prompts, completions, completion_ids, **columns) and returning a list of floats")
    return factory


def check_reward_config(factory, config: dict, path: str, name: str) -> None:
    """``rewards[i].config`` against the factory's signature: names, required options and annotated types (every
    problem at once), before the factory is called."""
    if not isinstance(factory, type) and declares_reward_signature(factory):
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
    errors = ErrorCollector()
    for key in config:
        if key not in named:
            errors.add(unknown_key_error(path, key, named) if named else ConfigError(
                f"{path}.{key}", f"reward {name!r} takes no options; remove `config`"))
    missing = [k for k, p in named.items() if p.default is inspect.Parameter.empty and k not in config]
    if missing:
        errors.add(ConfigError(path, f"reward {name!r} needs option(s) {', '.join(missing)}"))
    try:
        hints = typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
    except Exception:  # an annotation that does not resolve: that option's type is not checked
        hints = {}
    for key, value in config.items():
        if key in hints and key in named:
            with errors.collect():
                check_type(value, hints[key], f"{path}.{key}")
    errors.raise_if_any()
