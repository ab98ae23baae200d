"""A small stateful test plugin for the lifecycle tests (resume, several processes, push, report).

Installed for a subprocess through an entry point in a generated ``*.dist-info`` on ``PYTHONPATH`` (see
``conftest.py``), or in-process through ``PluginManager(extra_modules=...)``. Its state records which prompts each
generation round drew, so equal state means equal data order.

Environment switches (not recipe keys, so the killed run and its resume share one recipe):

* ``LIFECYCLE_PROBE_LOG_DIR``: append one JSON line per round to ``rounds-rank<i>.jsonl`` and rewrite
  ``state-rank<i>.json`` after every round.
* ``LIFECYCLE_PROBE_HANG_IN_SAVE_AT_STEP=N``: while saving the checkpoint of step N (after TRL wrote the model and
  optimizer), create ``hanging-in-save-N`` in the log dir and sleep, so a test can SIGKILL the run mid-save.
* ``LIFECYCLE_PROBE_KILL=POINT:N``: the process SIGKILLs itself once N optimizer steps are done, at ``POINT``:
  ``generation`` (in ``on_rewards`` of step N + 1: generated and scored, no loss yet; rollout trainers),
  ``optimizer`` (step N + 1's gradients computed, before the optimizer step), ``save`` (saving checkpoint N, after
  TRL wrote the model and optimizer into the staging directory) or ``between`` (checkpoint N committed, step N + 1
  not begun).

Every trainer (SFT and distill too, which fire no rollout hook) also counts optimizer steps in the state
(``steps``, and one draw from the plugin's generator per step), through a callback added in ``trainer_ready``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from transformers import TrainerCallback

from trl_reasoning import hookimpl


def kill_if(point: str, global_step: int) -> None:
    """SIGKILL this process when ``LIFECYCLE_PROBE_KILL`` is ``point:global_step``."""
    if os.environ.get("LIFECYCLE_PROBE_KILL") == f"{point}:{global_step}":
        os.kill(os.getpid(), signal.SIGKILL)


class StepCallback(TrainerCallback):
    def __init__(self, plugin):
        self.plugin = plugin

    def on_step_begin(self, args, state, control, **kwargs):
        kill_if("between", state.global_step)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        kill_if("optimizer", state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.plugin.steps += 1
        self.plugin.step_draws.append(int(torch.randint(0, 1_000_000, (1,), generator=self.plugin.generator)))


class Plugin:
    @dataclass
    class Config:
        seed: int = field(default=1234, metadata={"help": "Seed of the plugin's own random generator."})

    def __init__(self, config):
        self.config = config
        self.rounds = 0
        self.prompt_ids: dict[str, list[int]] = {}  # generation step -> one prompt id per group
        self.draws: list[int] = []  # from the plugin's own generator: its state must survive a resume
        self.generator = torch.Generator().manual_seed(config.seed)
        self.steps = 0
        self.step_draws: list[int] = []

    def _log_dir(self):
        value = os.environ.get("LIFECYCLE_PROBE_LOG_DIR")
        return Path(value) if value else None

    def state(self) -> dict:
        return {"rounds": self.rounds, "prompt_ids": dict(self.prompt_ids), "draws": list(self.draws),
                "steps": self.steps, "step_draws": list(self.step_draws), "generator": self.generator.get_state()}

    @hookimpl
    def trainer_ready(self, trainer):
        trainer.add_callback(StepCallback(self))

    @hookimpl
    def on_rewards(self, trainer, batch):
        kill_if("generation", trainer.state.global_step)
        G = batch.num_generations
        self.rounds += 1
        self.prompt_ids[str(batch.step)] = [int(p) for p in batch.prompt_ids[::G]]
        self.draws.append(int(torch.randint(0, 1_000_000, (1,), generator=self.generator)))
        log_dir = self._log_dir()
        if log_dir is not None:
            rank = batch.process_index
            completions = hashlib.sha256(json.dumps(batch.completion_token_ids).encode()).hexdigest()[:16]
            record = {"step": batch.step, "prompt_ids": batch.prompt_ids[::G], "completions": completions,
                      "pid": os.getpid()}
            with open(log_dir / f"rounds-rank{rank}.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            public = {k: v for k, v in self.state().items() if k != "generator"}
            (log_dir / f"state-rank{rank}.json").write_text(json.dumps(public, sort_keys=True))

    @hookimpl
    def metrics(self, trainer, mode):
        return {"lifecycle_probe/rounds": float(self.rounds)}

    @hookimpl
    def plugin_state(self, trainer):
        kill_if("save", trainer.state.global_step)
        hang = os.environ.get("LIFECYCLE_PROBE_HANG_IN_SAVE_AT_STEP")
        if hang and int(hang) == trainer.state.global_step:
            log_dir = self._log_dir()
            (log_dir / f"hanging-in-save-{hang}").write_text(str(os.getpid()))
            time.sleep(600)
        return self.state()

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self.rounds = state["rounds"]
        self.prompt_ids = dict(state["prompt_ids"])
        self.draws = list(state["draws"])
        self.steps = state.get("steps", 0)
        self.step_draws = list(state.get("step_draws", []))
        self.generator.set_state(state["generator"])

    @hookimpl
    def model_card_sections(self, recipe, results):
        return ["## Lifecycle probe\n\nA test plugin that records the prompts of every round."]
