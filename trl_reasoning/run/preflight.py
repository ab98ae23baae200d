"""Everything a run checks before it loads a model, every problem at once::

    prepared, args = preflight(recipe)               # raises ConfigError / ConfigErrors
    errors = []; preflight(recipe, errors=errors)    # collect instead (trl-reason validate)

``prepare`` (keys, types, ranges, plugins and how they compose, rewards, trainer fields, evaluation plan), then the
trainer's config object (TRL's own checks), the plugins' ``validate_run`` and the vLLM check.
"""

from __future__ import annotations

from trl_reasoning.config.recipe import Recipe
from trl_reasoning.config.schema import ConfigError, ErrorCollector
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run.build import build_config
from trl_reasoning.run.prepare import PreparedRun, prepare
from trl_reasoning.run.validate import check_vllm_available


def preflight(recipe: Recipe, pm: PluginManager | None = None, output_dir: str | None = None,
              allow_imports: str | None = None, errors: list[ConfigError] | None = None):
    """``prepare``, then what a run checks next before any model loads: the trainer's config (TRL's own checks),
    the plugins' ``validate_run`` and vLLM. Returns ``(prepared, args)``; ``args`` is ``None`` when the trainer
    section is wrong (with ``errors``: collected, see ``prepare``)."""
    collector = ErrorCollector(errors)
    found = len(collector)
    prepared = prepare(recipe, pm, allow_imports, errors=collector.errors)
    args = None
    trainer_ok = prepared.trainer_class is not None and not any(
        e.path.startswith("trainer") for e in collector.errors[found:])
    if trainer_ok:
        with collector.collect():
            args = build_config(prepared, str(output_dir or recipe.output_dir))
    if args is not None:
        with collector.collect():
            prepared.pm.hook.validate_run(recipe=recipe, args=args)
        with collector.collect():
            check_vllm_available(args)
    if errors is None:
        collector.raise_if_any()
    return prepared, args


def summary(prepared: PreparedRun) -> list[str]:
    """What a valid recipe will do, in a few lines (``trl-reason validate``)."""
    recipe = prepared.recipe
    rewards = [spec.name for spec, _ in prepared.reward_specs]
    benchmarks = [b.label for b in (prepared.eval_plan.benchmarks if prepared.eval_plan else [])]
    set_fields = sorted(k for k in recipe.trainer if k != "algorithm")
    lines = [f"algorithm: {recipe.algorithm} ({len(set_fields)} trainer field(s) set)",
             f"model: {recipe.model.name_or_path} ({recipe.model.dtype}{', LoRA' if recipe.model.lora else ''})",
             f"data: {recipe.data.train} (template {recipe.data.template})",
             f"rewards: {', '.join(rewards) or '(from plugins)'}",
             f"plugins: {', '.join(recipe.plugins) or '(none)'}"
             + (f"; compose: {', '.join(f'{h}={p}' for h, p in recipe.compose.items())}" if recipe.compose else ""),
             f"eval: {', '.join(benchmarks) or '(none)'}",
             f"output_dir: {recipe.output_dir}"]
    return lines

