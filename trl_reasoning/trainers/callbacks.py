"""Trainer callbacks: step-begin schedules, plugin metrics, ``metrics.jsonl`` and the rich progress bar."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from transformers import TrainerCallback


class HookCallback(TrainerCallback):
    """Fires ``schedule`` at every step begin (all ranks) and merges ``metrics`` into each log line."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer._has["schedule"]:
            self.trainer.apply_schedule(state.global_step)

    def on_step_begin(self, args, state, control, **kwargs):
        if self.trainer._has["schedule"] and state.global_step > 0:
            self.trainer.apply_schedule(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs is not None and self.trainer._has["metrics"]:
            mode = "train" if self.trainer.model.training else "eval"
            for result in self.trainer.pm.hook.metrics(trainer=self.trainer, mode=mode):
                logs.update(result or {})


class MetricsFileCallback(TrainerCallback):
    """Appends every log line (and every evaluation) to ``<output_dir>/metrics.jsonl`` on the main process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def write(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()
                 if isinstance(v, (int, float, str, bool)) or v is None}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean) + "\n")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            self.write({"step": state.global_step, "time": time.time(), **logs})


class RichProgressCallback(TrainerCallback):
    """A rich progress bar with step, reward, accuracy, completion length and ETA (replaces TRL's tqdm bar)."""

    def __init__(self):
        self.progress = None
        self.task = None
        self.fields = {"reward": "-", "acc": "-", "len": "-"}

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from ..progress import console

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

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs:
            return
        if logs.get("reward") is not None:
            self.fields["reward"] = f"{logs['reward']:.3f}"
        if logs.get("correct/rate") is not None:
            self.fields["acc"] = f"{logs['correct/rate']:.2f}"
        if logs.get("completions/mean_length") is not None:
            self.fields["len"] = f"{logs['completions/mean_length']:.0f}"
        self.progress.update(self.task, completed=state.global_step, **self.fields)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
