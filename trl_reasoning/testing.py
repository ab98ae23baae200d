"""Pytest fixtures for trl-reasoning and its plugin authors (registered as a pytest plugin, ``pytest11``).

::

    def test_my_plugin(tiny_model_path, make_recipe, run_recipe_steps):
        recipe = make_recipe(plugins={"my_plugin": {"weight": 0.5}})
        results = run_recipe_steps(recipe, steps=2)
        assert results["train"]["global_step"] == 2

* ``tiny_model_path``: a 2-layer random Llama (hidden 64) with SmolLM2's tokenizer, built once per session.
* ``make_recipe(**sections)``: a ``Recipe`` on the tiny model and a small arithmetic set, sections overridden.
* ``run_recipe_steps(recipe, steps=2)``: run it in-process into a temporary directory and return the results.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_TRAINER = {
    "algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
    "max_completion_length": 16, "learning_rate": 1.0e-3, "temperature": 1.0,
}


def tiny_model_dir(root: str | os.PathLike | None = None) -> str:
    """Build (once) and return the tiny test model's directory (under the trl-reasoning cache by default)."""
    from .models import build_tiny_model, cache_dir

    target = Path(root) if root else cache_dir() / "tiny-llama-2l-64h"
    return build_tiny_model(target)


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    return tiny_model_dir()


@pytest.fixture
def make_recipe(tiny_model_path, tmp_path):
    from .recipe import recipe_from_dict

    def make(**sections):
        data = {
            "model": {"name_or_path": tiny_model_path},
            "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8}},
            "trainer": dict(TINY_TRAINER),
            "rewards": [{"name": "boxed_integer", "config": {"lenient_value": 0.5}}],
            "output_dir": str(tmp_path / "run"),
        }
        for key, value in sections.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return recipe_from_dict(data)

    return make


@pytest.fixture
def run_recipe_steps(tmp_path):
    from .run import run_recipe

    def run(recipe, steps: int = 2, output_dir=None, **kwargs):
        recipe.trainer["max_steps"] = steps
        return run_recipe(recipe, output_dir=str(output_dir or recipe.output_dir), **kwargs)

    return run
