"""Pytest fixtures for trl-reasoning and its plugin authors (registered as a pytest plugin, ``pytest11``).

::

    def test_my_plugin(tiny_model_path, make_recipe, run_recipe_steps):
        recipe = make_recipe(plugins={"my_plugin": {"weight": 0.5}})
        results = run_recipe_steps(recipe, steps=2)
        assert results["train"]["global_step"] == 2

* ``tiny_model_path``: a 2-layer random Llama (hidden 64) with SmolLM2's tokenizer, built once per session.
* ``tiny_policy``: ``(model, tokenizer)`` loaded from it (a fresh copy per test).
* ``make_recipe(**sections)``: a ``Recipe`` on the tiny model and a small arithmetic set, sections overridden.
* ``run_recipe_steps(recipe, steps=2)``: run it in-process into a temporary directory and return the results.
* ``make_rollout_batch(rewards=[[1, 0, 0, 1], [0, 0, 0, 0]], correct=...)``: a real ``RolloutBatch`` from a table of
  rewards (one row per group of ``num_generations`` completions), to call a hook directly without a model.
* ``plugin_context(name, plugin, config=None)``: a context that installs a plugin (module, ``Plugin`` class or
  object) in a fresh ``PluginManager``, activates it, and removes it on exit::

      def test_hook(make_rollout_batch, plugin_context):
          with plugin_context("my_plugin", my_plugin_module, {"weight": 0.5}) as pm:
              pm.hook.on_rewards(trainer=None, batch=make_rollout_batch(rewards=[[1, 0, 1, 0]]))
              assert pm.active["my_plugin"].seen == 4

  With ``activate=False`` the plugin is only installed, so a recipe can name it:
  ``run_recipe_steps(make_recipe(plugins={"my_plugin": {}}), pm=pm)``.

* ``ParityCorrect``: a reward that decides correctness (``is_correct``) by the parity of a completion's token ids:
  on the random tiny model it gives groups that are mixed, all right and all wrong, so advantages and
  correctness-based plugins have something to act on. Register it from a test plugin's ``register_rewards``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

class ParityCorrect:
    """1.0 when the sum of a completion's token ids is even, else 0.0; ``is_correct`` marks the 1.0s."""

    __name__ = "parity_correct"

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs):
        return [1.0 if sum(ids) % 2 == 0 else 0.0 for ids in completion_ids]

    def is_correct(self, values):
        return [v == 1.0 for v in values]


TINY_TRAINER = {
    "algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
    "max_completion_length": 16, "learning_rate": 1.0e-3, "temperature": 1.0,
}


def tiny_model_dir(root: str | os.PathLike | None = None) -> str:
    """Build (once) and return the tiny test model's directory (under the trl-reasoning cache by default)."""
    from trl_reasoning.models import build_tiny_model, cache_dir

    target = Path(root) if root else cache_dir() / "tiny-llama-2l-64h"
    return build_tiny_model(target)


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    return tiny_model_dir()


@pytest.fixture
def make_recipe(tiny_model_path, tmp_path):
    from trl_reasoning.config.recipe import recipe_from_dict

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
    from trl_reasoning.run import run_recipe

    def run(recipe, steps: int = 2, output_dir=None, **kwargs):
        recipe.trainer["max_steps"] = steps
        return run_recipe(recipe, output_dir=str(output_dir or recipe.output_dir), **kwargs)

    return run


@pytest.fixture
def tiny_policy(tiny_model_path):
    """``(model, tokenizer)``: the tiny Llama in float32, a fresh copy for each test."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    return model, tokenizer


def make_rollout_batch(rewards: Sequence[Sequence[float]] | dict[str, Sequence[Sequence[float]]],
                       num_generations: int | None = None, correct: Any = None,
                       prompt_ids: Sequence[int] | None = None, completion_lengths: Any = None,
                       truncated: Any = None, step: int = 0, reward_weights: Sequence[float] | None = None):
    """A real ``RolloutBatch`` from a table of rewards, one row per group::

        batch = make_rollout_batch(rewards=[[1, 0, 0, 1], [0, 0, 0, 0]], correct=[[1, 0, 0, 1], [0, 0, 0, 0]])
        batch.num_groups, batch.group_pass_rate()      # 2, tensor([0.5, 0.0])

    * ``rewards``: ``[[r, ...] * num_groups]`` for one reward function named ``reward``, or
      ``{name: table}`` for several (same shape each).
    * ``num_generations``: checked against the row length (taken from it when omitted); a flat list of rewards is
      split into groups of this size.
    * ``correct``: a table of bools/0-1 of the same shape, a float threshold (``reward >= threshold`` on the first
      reward), or ``None`` (no reward decides correctness, as in a run without one).
    * ``prompt_ids``: one per group (default ``0, 1, ...``); ``completion_lengths``: one int for all, or a table
      (default 8); ``truncated``: a table of bools (default none).
    """
    import torch

    from trl_reasoning.rollouts import RolloutBatch

    tables = dict(rewards) if isinstance(rewards, dict) else {"reward": rewards}
    names = list(tables)

    def grouped(table, what):
        rows = [list(r) if isinstance(r, (list, tuple)) else r for r in table]
        if rows and not isinstance(rows[0], list):  # a flat list
            if not num_generations:
                raise ValueError(f"{what}: a flat list needs num_generations")
            if len(rows) % num_generations:
                raise ValueError(f"{what}: {len(rows)} values do not split into groups of {num_generations}")
            rows = [rows[i:i + num_generations] for i in range(0, len(rows), num_generations)]
        return rows

    first = grouped(tables[names[0]], "rewards")
    if not first:
        raise ValueError("rewards: give at least one group")
    G = num_generations or len(first[0])
    columns = []
    for name in names:
        rows = grouped(tables[name], f"rewards[{name!r}]")
        if len(rows) != len(first) or any(len(r) != G for r in rows):
            raise ValueError(f"rewards[{name!r}]: expected {len(first)} groups of {G} values, got "
                             f"{[len(r) for r in rows]}")
        columns.append([float(v) for r in rows for v in r])
    num_groups, B = len(first), len(first) * G
    reward_tensor = torch.tensor(columns, dtype=torch.float32).T.contiguous()  # (B, F)
    if correct is None:
        correct_tensor = None
    elif isinstance(correct, (int, float)) and not isinstance(correct, bool):
        correct_tensor = reward_tensor[:, 0] >= float(correct)  # (B,)
    else:
        flags = [bool(v) for r in grouped(correct, "correct") for v in r]
        if len(flags) != B:
            raise ValueError(f"correct: expected {B} flags, got {len(flags)}")
        correct_tensor = torch.tensor(flags, dtype=torch.bool)  # (B,)
    ids = list(prompt_ids) if prompt_ids is not None else list(range(num_groups))
    if len(ids) != num_groups:
        raise ValueError(f"prompt_ids: expected one per group ({num_groups}), got {len(ids)}")
    if completion_lengths is None or isinstance(completion_lengths, int):
        lengths = [completion_lengths or 8] * B
    else:
        lengths = [int(v) for r in grouped(completion_lengths, "completion_lengths") for v in r]
    flags_truncated = ([False] * B if truncated is None
                       else [bool(v) for r in grouped(truncated, "truncated") for v in r])
    row_ids = [ids[i // G] for i in range(B)]
    rows = [{"prompt_id": pid, "problem": f"problem {pid}", "answer": str(pid)} for pid in row_ids]
    return RolloutBatch(
        step=step,
        num_generations=G,
        prompt_ids=row_ids,
        prompts=[[{"role": "user", "content": row["problem"]}] for row in rows],
        completions=[f"completion {i} of problem {row_ids[i]}" for i in range(B)],
        completion_token_ids=[list(range(1, n + 1)) for n in lengths],
        completion_lengths=torch.tensor(lengths, dtype=torch.long),  # (B,)
        truncated=torch.tensor(flags_truncated, dtype=torch.bool),  # (B,)
        rewards=reward_tensor,  # (B, F)
        reward_names=names,
        reward_weights=torch.tensor(list(reward_weights) if reward_weights else [1.0] * len(names)),  # (F,)
        correct=correct_tensor,
        rows=rows,
        process_index=0,
        local_size=B,
    )


@pytest.fixture(name="make_rollout_batch")
def make_rollout_batch_fixture():
    return make_rollout_batch


@contextlib.contextmanager
def registered_plugin(name: str, plugin: Any, config: dict | None = None, activate: bool = True,
                      pm=None) -> Iterator[Any]:
    """Install ``plugin`` under ``name`` in a ``PluginManager`` (a fresh one unless given), activate it with
    ``config`` (validated like a recipe's ``plugins.<name>``), and remove it again on exit.

    ``plugin``: the entry-point module (with a ``Plugin`` class), a ``Plugin`` class, or a built object.
    """
    import inspect
    import types

    from trl_reasoning.plugins.manager import InstalledPlugin, PluginManager

    manager = pm if pm is not None else PluginManager(discover=False)
    if isinstance(plugin, types.ModuleType):
        module = plugin
    elif inspect.isclass(plugin):
        module = types.ModuleType(f"trl_reasoning_test_plugin_{name}")
        module.Plugin = plugin
    else:
        module = None
    if name in manager.installed:
        raise ValueError(f"a plugin named {name!r} is already installed in this PluginManager")
    if module is not None:
        manager._install(InstalledPlugin(name, module, f"{name} = {module.__name__}", None, None))
    try:
        if module is None:
            manager.register_active(name, plugin)
        elif activate:
            manager.activate({name: config or {}})
        yield manager
    finally:
        manager.unregister(name)
        installed = manager.installed.pop(name, None)
        if installed is not None and manager._registry.is_registered(installed.module):
            manager._registry.unregister(installed.module)


@pytest.fixture
def plugin_context():
    """``with plugin_context(name, plugin, config) as pm:``: see ``registered_plugin``."""
    return registered_plugin
