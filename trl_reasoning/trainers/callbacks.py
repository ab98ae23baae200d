"""Trainer callbacks: step-begin schedules, plugin metrics, Hub pushes per save, ``metrics.jsonl`` and the rich
progress bar."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Callable

from transformers import TrainerCallback

from trl_reasoning.config.redact import redact
from trl_reasoning.console import console, live_progress, remaining_seconds, step_line


class HookCallback(TrainerCallback):
    """Fires ``schedule`` at every step begin (all ranks; trainers with an ``apply_schedule``, i.e. the GRPO
    family) and merges ``metrics`` into each log line. Reads ``trainer.hook_present(name)``."""

    def __init__(self, trainer):
        self.trainer = trainer

    def _schedules(self) -> bool:
        return hasattr(self.trainer, "apply_schedule") and self.trainer.hook_present("schedule")

    def on_train_begin(self, args, state, control, **kwargs):
        if self._schedules():
            self.trainer.apply_schedule(state.global_step)

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step > 0 and self._schedules():
            self.trainer.apply_schedule(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        # Trainer's end-of-training summary (train_runtime, train_loss, ...) is logged under the last step again:
        # plugin metrics belong to the step's own line, not repeated on the summary line.
        if logs is not None and "train_runtime" not in logs and self.trainer.hook_present("metrics"):
            logs.update(self.trainer.hooks.metrics("train" if self.trainer.model.training else "eval"))


class CheckpointPushCallback(TrainerCallback):
    """``hub.push: every_save``: after each save, on the main process, ``push(checkpoint_dir)`` with the checkpoint
    just committed. The caller injects ``push`` (``trl_reasoning.run`` binds ``lifecycle.hub.push_checkpoint``), so
    the trainers never import the Hub code."""

    def __init__(self, push: Callable[[str], object]):
        self.push = push

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if folder.is_dir():
            self.push(str(folder))


class MetricsFileCallback(TrainerCallback):
    """Appends every log line (and every evaluation) to ``<output_dir>/metrics.jsonl`` on the main process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
                 if isinstance(v, (int, float, str, bool)) or v is None}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(redact(json.dumps(clean)) + "\n")  # one redaction step for every file a run writes

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            self.write({"step": state.global_step, "time": time.time(), **logs})


class RichProgressCallback(TrainerCallback):
    """Training's progress on the console (stderr), on the main process.

    On a terminal: a live rich bar with step, reward, accuracy, completion length and ETA (it replaces TRL's tqdm
    bar). In a pipe, a log file or CI (``progress.live_progress()`` false): one plain line per optimizer step,
    ``step 3/30  reward 0.412  correct 0.25  step 24.1s  elapsed 1m12s  remaining 10m51s``, so progress can be
    told from a hang. Reward and correct rate are those logged at that step (``-`` until a step logs them).

    It also hides transformers' ``There were missing keys in the checkpoint model loaded: ['lm_head.weight']`` on a
    resume: a model with tied embeddings saves the output embedding once, as the input embedding, and Trainer ties
    it again after loading, so the warning reports nothing wrong (``TiedWeightsWarningFilter``).
    """

    def __init__(self, live: bool | None = None):
        self.live = live
        self.progress = None
        self.task = None
        self.fields = {"reward": "-", "acc": "-", "len": "-"}
        self.values = {"reward": None, "correct": None}
        self.started = self.step_started = None
        self.first_step = 0
        self.pending = None  # (step, seconds): a step whose line waits for the log of that step

    def on_init_end(self, args, state, control, model=None, **kwargs):
        if model is not None:
            TiedWeightsWarningFilter.install(model)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.started = self.step_started = time.time()
        self.first_step = state.global_step
        if self.live is None:
            self.live = live_progress()
        if not self.live:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("reward {task.fields[reward]}  acc {task.fields[acc]}  len {task.fields[len]}"),
            TimeRemainingColumn(), console=console, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step,
                                           **self.fields)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, **self.fields)
        if self.live is False and state.is_world_process_zero and self.started is not None:
            now = time.time()
            self.pending = (state.global_step, now - self.step_started)
            self.step_started = now
            if not control.should_log:  # no log line follows this step: print with the last values
                self.print_step(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        if logs.get("reward") is not None:
            self.fields["reward"] = f"{logs['reward']:.3f}"
            self.values["reward"] = float(logs["reward"])
        if logs.get("correct/rate") is not None:
            self.fields["acc"] = f"{logs['correct/rate']:.2f}"
            self.values["correct"] = float(logs["correct/rate"])
        if logs.get("completions/mean_length") is not None:
            self.fields["len"] = f"{logs['completions/mean_length']:.0f}"
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, **self.fields)
        elif self.pending is not None and self.pending[0] == state.global_step:
            self.print_step(state)

    def print_step(self, state) -> None:
        step, seconds = self.pending
        self.pending = None
        elapsed = time.time() - self.started
        remaining = remaining_seconds(step - self.first_step, elapsed, state.max_steps - step)
        console.print(step_line(step, state.max_steps, self.values["reward"], self.values["correct"], seconds,
                                elapsed, remaining), highlight=False, markup=False, soft_wrap=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class TiedWeightsWarningFilter(logging.Filter):
    """Drops transformers' missing-keys warning of a checkpoint load when every missing key is a weight tied to
    another one of the model (``lm_head.weight`` of a model with ``tie_word_embeddings``); any other missing key is
    still reported."""

    MESSAGE = "There were missing keys in the checkpoint model loaded: "
    LOGGER = "transformers.trainer"

    def __init__(self, tied: set[str]):
        super().__init__()
        self.tied = tied

    @classmethod
    def install(cls, model) -> None:
        tied = tied_parameter_names(model)
        if not tied:
            return
        logger = logging.getLogger(cls.LOGGER)
        for existing in logger.filters:
            if isinstance(existing, cls):
                existing.tied |= tied
                return
        logger.addFilter(cls(tied))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(self.MESSAGE):
            return True
        import ast

        try:
            missing = ast.literal_eval(message[len(self.MESSAGE):].rstrip("."))
        except (ValueError, SyntaxError):
            return True
        return not (missing and all(_strip_wrappers(key) in self.tied for key in missing))


def _strip_wrappers(name: str) -> str:
    for prefix in ("module.", "_orig_mod.", "base_model.model."):
        while name.startswith(prefix):
            name = name[len(prefix):]
    return name


def tied_parameter_names(model) -> set[str]:
    """Names of the parameters that share their tensor with an earlier parameter (``named_parameters`` lists a
    shared tensor once; ``remove_duplicate=False`` lists every name)."""
    seen: dict[int, str] = {}
    tied = set()
    for name, parameter in model.named_parameters(remove_duplicate=False):
        key = id(parameter)
        if key in seen:
            tied.add(_strip_wrappers(name))
        else:
            seen[key] = name
    return tied
