"""trl-reasoning: reinforcement learning with verifiable rewards for LLM math reasoning, on TRL, with plugins.

Run a recipe with ``trl-reason run recipe.yaml``. Write a plugin with the names below, imported from this module
only (``from trl_reasoning import hookimpl, ConfigError, RolloutBatch``); the hooks are ``trl_reasoning.hookspecs``
(reference: ``docs/hooks.md``), the API is ``docs/api.md``, the fixtures for a plugin's tests are
``trl_reasoning.testing``. Everything else in the package is internal and may move between releases.

Names are imported on first use (PEP 562), so ``import trl_reasoning`` stays cheap: ``RolloutBatch`` imports torch,
``hookimpl`` does not.
"""

from __future__ import annotations

import importlib

from trl_reasoning.hookspecs import hookimpl

__version__ = "0.1.0"

# name -> the module that defines it, or "module:attribute" when the public name differs (imported on first read).
_EXPORTS = {
    # Errors: what a plugin raises for a bad setting, and what the core raises for a broken plugin.
    "ConfigError": "trl_reasoning.config.schema",
    "ConfigErrors": "trl_reasoning.config.schema",
    "FieldError": "trl_reasoning.config.schema",
    "PluginError": "trl_reasoning.plugins.manager",
    # Configuration: build a validated dataclass from a mapping (nearest-key errors, typed checks).
    "build_dataclass": "trl_reasoning.config.schema",
    # What hooks receive.
    "RolloutBatch": "trl_reasoning.rollouts",
    "LossContext": "trl_reasoning.rollouts",
    "Advantages": "trl_reasoning.rollouts",
    "GenerationRound": "trl_reasoning.rollouts",
    "PromptRecord": "trl_reasoning.records",
    "PromptRecords": "trl_reasoning.records",
    # Declaring how a plugin composes with others (``composition = Composition(...)`` on the plugin class).
    "Composition": "trl_reasoning.plugins.composition",
    "PluginManager": "trl_reasoning.plugins.manager",
    "RunHooks": "trl_reasoning.plugins.hooks",
    # Data, prompts, models and completions: the same rules the core uses.
    "PromptFormat": "trl_reasoning.data.prompts",
    "load_rows": "trl_reasoning.data.sources",
    "read_rows": "trl_reasoning.data.sources",
    "load_for": "trl_reasoning.models",
    "DTYPE_KEY_ATTR": "trl_reasoning.models",
    "completion_text": "trl_reasoning.data.answers",
    "CorrectnessReward": "trl_reasoning.rewards.correctness",
    # Trainers a plugin may subclass (PPO, distillation).
    "ReasoningGRPOTrainer": "trl_reasoning.trainers.grpo",
    "ReasoningGRPOConfig": "trl_reasoning.trainers.grpo",
    "ReasoningSFTTrainer": "trl_reasoning.trainers.sft",
    "ReasoningSFTConfig": "trl_reasoning.trainers.sft",
    # Driving runs and generation from a plugin's own command (``register_commands``).
    "load_recipe": "trl_reasoning.config.recipe",
    "prepare": "trl_reasoning.run",
    "build_rewards": "trl_reasoning.run",
    "run_recipe": "trl_reasoning.run",
    "SamplingSettings": "trl_reasoning.evaluation.generation",
    "TransformersBackend": "trl_reasoning.evaluation.generation",
    "render_prompts": "trl_reasoning.evaluation.generation",
    # (not "console": that is the submodule trl_reasoning.console, which shadows a package attribute of that name)
    "rich_console": "trl_reasoning.console:console",
}

__all__ = ["hookimpl", "lazy_exports", "__version__", *_EXPORTS]


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` (PEP 562) that imports ``name`` from the submodule ``exports[name]`` on first use, so
    a plugin package can list its public names without importing torch when it is discovered::

        __getattr__ = lazy_exports(__name__, {"ReasoningPPOTrainer": "trainer"})
    """

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def __getattr__(name: str):
    if name in _EXPORTS:
        module, _, attribute = _EXPORTS[name].partition(":")
        try:
            value = getattr(importlib.import_module(module), attribute or name)
        except (ImportError, AttributeError) as exc:
            raise AttributeError(f"trl_reasoning.{name} is not available in this version ({exc})") from exc
        globals()[name] = value  # later reads skip this function
        return value
    raise AttributeError(f"module 'trl_reasoning' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
