"""Pytest fixtures and helpers for testing trl-reasoning plugins (as ``tox.pytest`` is for tox's).

Opt in from the root ``conftest.py`` of your project (pytest reads ``pytest_plugins`` there only)::

    pytest_plugins = ["trl_reasoning.testing"]

    def test_my_plugin(make_recipe, run_recipe_steps):
        recipe = make_recipe(plugins={"my_plugin": {"weight": 0.5}})
        results = run_recipe_steps(recipe, steps=2)
        assert results["train"]["global_step"] == 2

Fixtures:

* ``tiny_model_path``: a 2-layer random Llama (hidden 64) with SmolLM2's tokenizer, built once per session.
* ``tiny_policy``: ``(model, tokenizer)`` loaded from it (a fresh copy per test).
* ``make_recipe(**sections)``: a ``Recipe`` on the tiny model and a small arithmetic set, sections overridden.
* ``run_recipe_steps(recipe, steps=2)``: run it in-process into a temporary directory and return the results
  (without the end-of-run plots unless ``plots=True``).
* ``make_rollout_batch``, ``trainer_stub``, ``run_cli``, ``plugin_context``: the functions below, as fixtures.

Functions (importable without pytest fixtures):

* ``make_rollout_batch(rewards=[[1, 0, 0, 1], [0, 0, 0, 0]], correct=...)``: a real ``RolloutBatch`` from a table of
  rewards (one row per group of ``num_generations`` completions), to call a hook directly without a model.
* ``make_trainer_stub(dataset=rows, step=3, world_size=2, pm=pm)``: what a hook reads from ``trainer``
  (``state.global_step``, ``train_dataset``, ``args``, ``accelerator``, ``records``, ``eligible_rows()``, ``hooks``,
  ``log_metric``) without building a model::

      trainer = make_trainer_stub(dataset=[{"prompt_id": i, "problem": f"{i} + 1"} for i in range(8)], step=3)
      plugin.on_rewards(trainer=trainer, batch=make_rollout_batch(rewards=[[1, 0, 1, 0]]))

* ``run_cli(*argv)``: run ``trl-reason`` in-process (or ``subprocess=True``) and return its outcome
  (``returncode``, ``out``, ``err``, ``assert_success()``, ``assert_exit(2)``)::

      outcome = run_cli("validate", "recipe.yaml")
      outcome.assert_exit(2)
      assert "trainer.max_stpes" in outcome.err

* ``registered_plugin(name, plugin, config=None)``: a context that installs a plugin (module, ``Plugin`` class or
  object) in a fresh ``PluginManager``, activates it, and removes it on exit::

      def test_hook(make_rollout_batch, plugin_context):
          with plugin_context("my_plugin", my_plugin_module, {"decay": 0.5}) as pm:
              state = pm.active["my_plugin"]               # the Plugin object the recipe's config built
              batch = make_rollout_batch(rewards=[[1, 0, 0, 1]])
              pm.hook.on_rewards(trainer=None, batch=batch, round=batch.round)
              assert state.rounds == 1

  With ``activate=False`` the plugin is only installed, so a recipe can name it:
  ``run_recipe_steps(make_recipe(plugins={"my_plugin": {}}), pm=pm)``.

* ``ParityCorrect``: a reward that decides correctness (``reports_correctness``, ``last_correct``) by the parity of a
  completion's token ids:
  on the random tiny model it gives groups that are mixed, all right and all wrong, so advantages and
  correctness-based plugins have something to act on. Register it from a test plugin's ``register_rewards``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import os
import subprocess as _subprocess
import sys
import types
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from trl_reasoning.cli.main import main as cli_main
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.models import build_tiny_model, cache_dir
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.records import PromptRecords


class ParityCorrect:
    """1.0 when the sum of a completion's token ids is even, else 0.0; ``last_correct`` (and ``is_correct``) mark
    the 1.0s."""

    __name__ = "parity_correct"
    reports_correctness = True

    def __init__(self):
        self.last_correct: list[bool] = []

    def __call__(self, prompts=None, completions=None, completion_ids=None, **kwargs):
        values = [1.0 if sum(ids) % 2 == 0 else 0.0 for ids in completion_ids]
        self.last_correct = [v == 1.0 for v in values]
        return values

    def is_correct(self, values):
        return [v == 1.0 for v in values]


TINY_TRAINER = {
    "algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
    "max_completion_length": 16, "learning_rate": 1.0e-3, "temperature": 1.0,
}


R1_MARKERS = ("<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>", "<think>", "</think>")


def make_r1_like_model(source: str | os.PathLike, target: str | os.PathLike, chat_template: str) -> str:
    """Save a copy of the model at ``source`` made R1-Distill-like where it matters to prompt rendering: the given
    ``chat_template`` (e.g. one that deletes assistant text up to ``</think>``) and R1-Distill's turn and thinking
    markers as tokens of their own (embeddings resized). Returns ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: only when a test asks for it

    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.chat_template = chat_template
    tokenizer.add_tokens(list(R1_MARKERS))
    model = AutoModelForCausalLM.from_pretrained(source)
    model.resize_token_embeddings(len(tokenizer))
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return str(target)


def run_two_ranks(worker: str | os.PathLike, *args: str | os.PathLike, out_dir: str | os.PathLike,
                  timeout: int = 600) -> list:
    """Run ``worker`` on two CPU processes with torchrun (gloo, one thread each, the tiny model left as the test
    names it) and return what each rank saved as ``out_dir/rank{r}.pt``. The worker gets ``*args`` then
    ``out_dir``; a failing run fails the test with the end of its output."""
    import socket

    import torch

    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_REASONING_TEST_MODEL": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), str(worker), *map(str, args), str(out_dir)]
    done = _subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [torch.load(Path(out_dir) / f"rank{rank}.pt", weights_only=False) for rank in (0, 1)]


def tiny_model_dir(root: str | os.PathLike | None = None) -> str:
    """Build (once) and return the tiny test model's directory (under the trl-reasoning cache by default)."""
    target = Path(root) if root else cache_dir() / "tiny-llama-2l-64h"
    return build_tiny_model(target)


def tiny_recipe(model_path: str, run_dir: str | os.PathLike, /, **sections):
    """The recipe ``make_recipe`` builds, for a given model directory and output directory (``run_dir``; a section
    ``output_dir=...`` overrides it)."""
    data = {
        "model": {"name_or_path": model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8}},
        "trainer": dict(TINY_TRAINER),
        "rewards": [{"name": "boxed_integer", "config": {"lenient_value": 0.5}}],
        "output_dir": str(run_dir),
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return recipe_from_dict(data)


@pytest.fixture(scope="session")
def tiny_model_path() -> str:
    return tiny_model_dir()


@pytest.fixture
def make_recipe(tiny_model_path, tmp_path):
    def make(**sections):
        return tiny_recipe(tiny_model_path, tmp_path / "run", **sections)

    return make


@pytest.fixture
def run_recipe_steps(tmp_path):
    def run(recipe, steps: int = 2, output_dir=None, **kwargs):
        from trl_reasoning.run import run_recipe  # heavy (the trainers): loaded when a test runs a recipe

        recipe.trainer["max_steps"] = steps
        kwargs.setdefault("plots", False)  # most of a tiny run's time; a test of the plots passes plots=True
        return run_recipe(recipe, output_dir=str(output_dir or recipe.output_dir), **kwargs)

    return run


@pytest.fixture
def tiny_policy(tiny_model_path):
    """``(model, tokenizer)``: the tiny Llama in float32, a fresh copy for each test."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: only when a test asks for the model

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    return model, tokenizer


def make_rollout_batch(rewards: Sequence[Sequence[float]] | dict[str, Sequence[Sequence[float]]],
                       num_generations: int | None = None, correct: Any = None,
                       prompt_ids: Sequence[int] | None = None, completion_lengths: Any = None,
                       truncated: Any = None, step: int = 0, reward_weights: Sequence[float] | None = None,
                       round: Any = None, variants: Sequence[str] | None = None):
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
    * ``round``: the batch's ``GenerationRound`` (default: the first round of ``step``); ``variants``: one prompt
      variant per group (default ``""``).
    """
    import torch  # heavy: only when a batch is built

    from trl_reasoning.rollouts import GenerationRound, RolloutBatch  # heavy (torch)

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
    group_variants = list(variants) if variants is not None else [""] * num_groups
    if len(group_variants) != num_groups:
        raise ValueError(f"variants: expected one per group ({num_groups}), got {len(group_variants)}")
    if completion_lengths is None or isinstance(completion_lengths, int):
        lengths = [completion_lengths or 8] * B
    else:
        lengths = [int(v) for r in grouped(completion_lengths, "completion_lengths") for v in r]
    flags_truncated = ([False] * B if truncated is None
                       else [bool(v) for r in grouped(truncated, "truncated") for v in r])
    row_ids = [ids[i // G] for i in range(B)]
    rows = [{"prompt_id": pid, "problem": f"problem {pid}", "answer": str(pid)} for pid in row_ids]
    for i, row in enumerate(rows):
        if group_variants[i // G]:
            row["prompt_variant"] = group_variants[i // G]
    fields = {f.name for f in dataclasses.fields(RolloutBatch)}
    extra = {}
    if "round" in fields:
        extra["round"] = round if round is not None else GenerationRound.first(step=step, generation=0)
    if "variants" in fields:
        extra["variants"] = [group_variants[i // G] for i in range(B)]
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
        **extra,
    )


@pytest.fixture(name="make_rollout_batch")
def make_rollout_batch_fixture():
    return make_rollout_batch


# -- a trainer stub ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class AcceleratorStub:
    """What hooks read from ``trainer.accelerator``: the process layout and the device."""

    num_processes: int = 1
    process_index: int = 0
    device: str = "cpu"

    @property
    def is_main_process(self) -> bool:
        return self.process_index == 0

    @property
    def is_local_main_process(self) -> bool:
        return self.process_index == 0


class TrainerStub:
    """The parts of a ``ReasoningGRPOTrainer`` hooks read, with no model: see ``make_trainer_stub``."""

    def __init__(self, dataset, step: int, world_size: int, process_index: int, pm, args: dict, recipe,
                 prompt_format):
        from trl_reasoning.plugins.hooks import RunHooks  # heavy (torch, through rollouts): only when a stub is built

        self.train_dataset = dataset
        self.state = types.SimpleNamespace(global_step=step, max_steps=args.get("max_steps", -1), epoch=0.0)
        self.accelerator = AcceleratorStub(num_processes=world_size, process_index=process_index)
        self.args = types.SimpleNamespace(**{**dict(TINY_TRAINER), "world_size": world_size, **args})
        self.num_generations = self.args.num_generations
        self.pm = pm if pm is not None else PluginManager(discover=False)
        self.pm.install_core()
        self.hooks = RunHooks(self.pm, self)
        self.recipe = recipe
        self.prompt_format = prompt_format
        self.records = PromptRecords()
        self.auxiliary: dict[str, Any] = {}
        self.logged: list[tuple[str, float]] = []  # what log_metric received, in order

    def eligible_rows(self, round=None) -> list[int]:
        """All rows of ``train_dataset`` narrowed by the active plugins' ``candidate_rows`` chain."""
        return self.hooks.candidate_rows(list(range(len(self.train_dataset or []))), round)

    def log_metric(self, name: str, value: float) -> None:
        self.logged.append((name, float(value)))

    def __repr__(self) -> str:
        return (f"TrainerStub(step={self.state.global_step}, rows={len(self.train_dataset or [])}, "
                f"world_size={self.accelerator.num_processes})")


def make_trainer_stub(dataset: Sequence[dict] | Any = None, step: int = 0, world_size: int = 1, *,
                      process_index: int = 0, pm: PluginManager | None = None, recipe: Any = None,
                      prompt_format: Any = None, **args) -> TrainerStub:
    """A stand-in for the trainer a hook receives, for hook tests that need no model::

        trainer = make_trainer_stub(dataset=rows, step=3, world_size=2, num_generations=8)
        trainer.state.global_step, trainer.accelerator.num_processes, trainer.args.num_generations   # 3, 2, 8
        trainer.eligible_rows()          # every row, narrowed by pm's active candidate_rows plugins

    * ``dataset``: the training rows (a list of dicts, or a ``datasets.Dataset``) as ``train_dataset``.
    * ``step``: ``state.global_step`` (optimizer steps completed, as hooks see it).
    * ``world_size`` / ``process_index``: ``accelerator.num_processes`` / ``.process_index`` (``is_main_process``
      on index 0) and ``args.world_size``.
    * ``pm``: the ``PluginManager`` whose active plugins ``hooks`` and ``eligible_rows()`` call (a fresh empty one
      by default).
    * ``recipe``, ``prompt_format``: what ``trainer.recipe`` / ``trainer.prompt_format`` hold (``None`` by default).
    * any other keyword: a field of ``trainer.args`` (defaults: the tiny recipe's trainer section).

    ``trainer.records`` is an empty ``PromptRecords``; ``trainer.log_metric(name, value)`` appends to
    ``trainer.logged``.
    """
    return TrainerStub(list(dataset) if isinstance(dataset, (list, tuple)) else dataset, step, world_size,
                       process_index, pm, args, recipe, prompt_format)


@pytest.fixture
def trainer_stub():
    """``make_trainer_stub`` as a fixture: ``trainer = trainer_stub(dataset=rows, step=3)``."""
    return make_trainer_stub


# -- the command line ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CliOutcome:
    """What one ``trl-reason`` invocation did (as tox's ``ToxRunOutcome``)."""

    argv: list[str]
    returncode: int
    out: str
    err: str

    def assert_success(self) -> "CliOutcome":
        assert self.returncode == 0, self._report("exit status 0")
        return self

    def assert_exit(self, code: int) -> "CliOutcome":
        assert self.returncode == code, self._report(f"exit status {code}")
        return self

    def _report(self, expected: str) -> str:
        return (f"trl-reason {' '.join(self.argv)}: expected {expected}, got {self.returncode}\n"
                f"--- stdout\n{self.out[-4000:]}\n--- stderr\n{self.err[-4000:]}")


def run_cli(*argv: str | os.PathLike, subprocess: bool = False, env: dict[str, str] | None = None,
            cwd: str | os.PathLike | None = None, timeout: float = 900) -> CliOutcome:
    """Run ``trl-reason *argv`` and return its ``CliOutcome``.

    In-process by default: the real console entry (``trl_reasoning.cli.main.main``), stdout and stderr captured,
    ``SystemExit`` turned into the return code, ``env`` applied for the call and restored after. With
    ``subprocess=True`` a fresh interpreter runs it, as a user's shell would (entry-point discovery, start-up imports,
    signals).
    """
    args = [str(a) for a in argv]
    if subprocess:
        code = "import sys; from trl_reasoning.cli.main import main; sys.exit(main(sys.argv[1:]))"
        done = _subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                               cwd=cwd, env={**os.environ, **(env or {})})
        return CliOutcome(args, done.returncode, done.stdout, done.stderr)
    out, err = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in (env or {})}
    old_cwd = os.getcwd()
    try:
        os.environ.update(env or {})
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli_main(args)
            except SystemExit as exit_:
                status = exit_.code
    finally:
        os.chdir(old_cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if status is None:
        status = 0
    elif not isinstance(status, int):
        err.write(f"{status}\n")
        status = 1
    return CliOutcome(args, status, out.getvalue(), err.getvalue())


@pytest.fixture(name="run_cli")
def run_cli_fixture():
    """``run_cli`` as a fixture: ``outcome = run_cli("plugins", "--json")``."""
    return run_cli


# -- installing a plugin for a test ------------------------------------------------------------------------------------


@contextlib.contextmanager
def registered_plugin(name: str, plugin: Any, config: dict | None = None, activate: bool = True,
                      pm=None) -> Iterator[Any]:
    """Install ``plugin`` under ``name`` in a ``PluginManager`` (a fresh one unless given), activate it with
    ``config`` (validated like a recipe's ``plugins.<name>``), and remove it again on exit.

    ``plugin``: the entry-point module (with a ``Plugin`` class), a ``Plugin`` class, or a built object.
    """
    manager = pm if pm is not None else PluginManager(discover=False)
    manager.install_core()  # what a composition root does (idempotent): grpo, sft and boxed_integer
    built = not isinstance(plugin, types.ModuleType) and not inspect.isclass(plugin)
    if name in manager.installed or (built and name in manager.active):
        raise ValueError(f"a plugin named {name!r} is already installed in this PluginManager")
    try:
        if built:
            manager.register_active(name, plugin)
        else:
            manager.install(name, plugin, activate_config=(config or {}) if activate else None)
        yield manager
    finally:
        manager.unregister(name)
        if name in manager.installed:
            manager.uninstall(name)


@pytest.fixture
def plugin_context():
    """``with plugin_context(name, plugin, config) as pm:``: see ``registered_plugin``."""
    return registered_plugin
