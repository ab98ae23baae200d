"""Check a whole recipe against the installed plugins, trainers and rewards before anything heavy loads.

::

    prepared = prepare(recipe)                  # raises ConfigError / ConfigErrors (every problem at once)
    errors = []; prepare(recipe, errors=errors)  # collect instead of raising (trl-reason validate)

Everything a recipe can get wrong (keys, types, ranges, plugin names and configs, how plugins compose, reward
names and their config keys, trainer fields and their relations, evaluation settings) is found here, so a typo
costs a second, not a model load. ``run.preflight`` adds the checks that need the trainer's config object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trl_reasoning.config.recipe import Recipe
from trl_reasoning.config.schema import ConfigError, ErrorCollector, nearest
from trl_reasoning.evaluation.recipe_eval import plan_eval
from trl_reasoning.models import resolve_test_model
from trl_reasoning.plugins.composition import check_composition
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run.validate import (allowed_import_prefixes, check_data_options, check_remote_code,
                                        check_reward_config, check_trainer_fields, check_trainer_relations,
                                        resolve_reward)

# Settings trl-reasoning chooses when a recipe does not: log every step (metrics.jsonl, the progress bar), no
# external loggers unless asked, our own progress bar instead of tqdm.
RUN_DEFAULTS = {"logging_steps": 1, "report_to": "none", "disable_tqdm": True, "save_strategy": "no"}


@dataclass
class PreparedRun:
    recipe: Recipe
    pm: PluginManager
    trainer_class: type | None
    config_class: type | None
    trainer_kwargs: dict
    reward_specs: list
    eval_plan: Any = None  # evaluation.recipe_eval.EvalPlan: the recipe's `eval` section, checked


def plugin_manager() -> PluginManager:
    """The plugin manager of a run: every installed plugin discovered, the core plugin installed by name."""
    pm = PluginManager()
    pm.install_core()
    return pm


def resolve_models(recipe: Recipe) -> None:
    """The test-model switch's word (``tiny``) becomes the model directory it names (built on first use), so the
    resolved recipe, provenance and model card name the model that was trained."""
    if recipe.test_model:
        recipe.test_model = resolve_test_model(recipe.test_model)
        recipe.model.name_or_path = recipe.test_model


def prepare(recipe: Recipe, pm: PluginManager | None = None, allow_imports: str | None = None,
            errors: list[ConfigError] | None = None) -> PreparedRun:
    """Validate a recipe against the installed plugins, trainers and rewards; load nothing heavy.

    Every problem is reported at once: one ``ConfigError``, or ``ConfigErrors`` for several. With ``errors`` (a
    list) the problems are appended to it instead and the best ``PreparedRun`` possible is returned
    (``trainer_class`` is ``None`` when the algorithm is unknown).

    ``allow_imports``: module prefixes a recipe's dotted import paths may name (``"*"``: any; default
    ``$TRL_REASONING_ALLOW_IMPORTS``, which ``trl-reason run --allow-imports`` sets). Without it a recipe is data: a
    dotted path is refused before anything is imported (see ``resolve_reward``).
    """
    collector = ErrorCollector(errors)
    pm = pm or plugin_manager()
    pm.install_core()  # idempotent: a manager built elsewhere gets the core plugin too
    resolve_models(recipe)
    before = len(collector)
    for name, raw in recipe.plugins.items():  # one at a time: a wrong plugin does not hide the next one's problems
        with collector.collect():
            pm.activate({name: raw})
    if len(collector) == before:  # how plugins compose, once every one of them is active
        composition = check_composition(pm, recipe)
        for error in composition:
            collector.add(error)
        if not composition:
            pm.set_composition(recipe.compose)
    trainer_class = config_class = None
    kwargs: dict = {}
    trainers = pm.trainers()
    if recipe.algorithm in trainers:
        trainer_class, config_class = trainers[recipe.algorithm]
        before = len(collector)
        with collector.collect():
            kwargs = check_trainer_fields(recipe, config_class)
        if len(collector) == before:  # relations only between values that are right themselves
            with collector.collect():
                check_trainer_relations(config_class, kwargs)
        if recipe.rewards and not calls_rewards(trainer_class):
            collector.add(ConfigError("rewards", f"the {recipe.algorithm!r} trainer calls no reward (it trains on "
                                                 "fixed prompt/completion pairs, no rollouts); remove `rewards:`, or "
                                                 "use a trainer that samples (trainer.algorithm: grpo or ppo)"))
    else:
        close = nearest(recipe.algorithm, trainers)
        hint = f" Did you mean {close!r}?" if close else ""
        collector.add(ConfigError("trainer.algorithm", f"unknown algorithm {recipe.algorithm!r}.{hint} Registered: "
                                  f"{', '.join(sorted(trainers))} (plugins add more through register_trainers)"))
    with collector.collect():
        check_remote_code(recipe, kwargs)
    with collector.collect():
        check_data_options(recipe)
    specs = _check_rewards(recipe, pm, allowed_import_prefixes(allow_imports), collector)
    eval_plan = None
    with collector.collect():
        eval_plan = plan_eval(recipe, pm)  # benchmarks, protocol overrides and plugin eval options, no rows loaded
    if errors is None:
        collector.raise_if_any()
    return PreparedRun(recipe, pm, trainer_class, config_class, kwargs, specs, eval_plan)


def calls_rewards(trainer_class: type) -> bool:
    """Whether a trainer uses reward functions: one that declares the hooks it calls (``calls_hooks``, e.g. SFT)
    lists ``reward_funcs`` among them; one that declares nothing (GRPO, PPO) calls every hook."""
    calls = getattr(trainer_class, "calls_hooks", None)
    return calls is None or "reward_funcs" in calls


def _check_rewards(recipe: Recipe, pm: PluginManager, allowed: tuple[str, ...], collector: ErrorCollector) -> list:
    """Each ``rewards[i]``: its name resolved and its ``config`` checked against the factory's signature."""
    registry = pm.rewards()
    specs = []
    for i, spec in enumerate(recipe.rewards):
        if not spec.name:  # a broken entry (recipe_from_dict has reported it)
            continue
        with collector.collect():
            factory = resolve_reward(spec.name, registry, allowed, f"rewards[{i}].name")
            check_reward_config(factory, spec.config, f"rewards[{i}].config", spec.name)
            specs.append((spec, factory))
    return specs
