"""Test helpers for the one_shot plugin: a correctness reward that is right on about half of the tiny random
model's answers (sum of token ids even), a plugin manager with only what the tests need, and a recipe builder."""

from __future__ import annotations

from trl_reasoning import hookimpl
from trl_reasoning.testing import ParityCorrect


@hookimpl
def register_rewards(register):
    register("parity_correct", ParityCorrect)


def plugin_manager():
    import sys

    import trl_reason_one_shot.plugin

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("one_shot", trl_reason_one_shot.plugin),
                                        ("one_shot_test_rewards", sys.modules[__name__])], discover=False)


def recipe_dict(model_path: str, output_dir: str, plugins=None, rewards=None, **trainer) -> dict:
    return {
        "model": {"name_or_path": model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 8, "n_test": 4}},
        "trainer": {"algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 8,
                    "max_completion_length": 8, "learning_rate": 1.0e-3, "temperature": 1.0, **trainer},
        "rewards": rewards or [{"name": "parity_correct"}],
        "plugins": {"one_shot": {}} if plugins is None else plugins,
        "output_dir": output_dir,
    }
