"""FastCuRL's stage table as pure functions: which stage a step is in, which trainers a run needs, which rows a
step draws.

Steps are optimizer steps counted from 0 (``trainer.state.global_step`` when the step begins). A table of stages
with ``steps`` 2 and 3 covers steps 0-1 (stage 1) and 2-4 (stage 2); ``metrics.jsonl`` logs a step under its
number after it ran, so those appear as ``step`` 1-2 and 3-5. Steps past the table's end stay in the last stage.

Two consecutive stages with the same batch shape (prompts per step, generations per prompt) run in one trainer
(the ``schedule`` hook changes the level, context length and KL coefficient at the first step of the new stage);
a change of shape starts a new trainer from the checkpoint at the boundary (``run_stages``)::

    >>> table = [Stage(level="short", steps=2, prompts_per_step=4, num_generations=2),
    ...          Stage(level="long", steps=1, prompts_per_step=4, num_generations=2),
    ...          Stage(level="all", steps=1, prompts_per_step=2, num_generations=4)]
    >>> trainer_segments(table)
    [(0, 1, 3), (2, 2, 4)]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Stage:
    steps: int = field(metadata={"help": "Optimizer steps in this stage (FastCuRL-1.5B-Preview: 160, 590, 230, 580)."})
    level: str | int = field(default="all", metadata={
        "help": "Data level: `short` (length <= mean, the authors' L1), `long` (> mean, L3), `all` (the whole pool, "
                "L2), or a bucket number 1..k when the split has k buckets."})
    max_completion_length: int | None = field(default=None, metadata={
        "help": "Context (max response tokens) from this stage's first step (8192, 16384, 24576, 16384 in the "
                "`run_fastcurl_1.5b_*` scripts); null keeps the previous value."})
    prompts_per_step: int | None = field(default=None, metadata={
        "help": "Unique prompts per optimizer step (`data.train_batch_size`: 128 in stage I, 64 after); null keeps "
                "the previous stage's (or the trainer's). A change starts a new trainer at the boundary."})
    num_generations: int | None = field(default=None, metadata={
        "help": "Completions per prompt (`rollout.n`: 8, then 16 in stage IV); null keeps the previous value. A "
                "change starts a new trainer at the boundary."})
    beta: float | None = field(default=None, metadata={
        "help": "KL coefficient in this stage (`kl_loss_coef: 0.001` with `use_kl_loss=True` in stages I-IV; 0 turns "
                "KL off, as in stage V); null keeps the previous value."})

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"a stage needs at least 1 step, got steps={self.steps}")
        for name in ("max_completion_length", "prompts_per_step", "num_generations"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if self.num_generations is not None and self.num_generations < 2:
            raise ValueError("num_generations must be at least 2 (GRPO needs a group)")
        if self.beta is not None and self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


def stage_bounds(stages: list[Stage]) -> list[tuple[int, int]]:
    """``(first_step, end_step)`` of each stage, end exclusive."""
    bounds, start = [], 0
    for stage in stages:
        bounds.append((start, start + stage.steps))
        start += stage.steps
    return bounds


def total_steps(stages: list[Stage]) -> int:
    return sum(stage.steps for stage in stages)


def stage_at(stages: list[Stage], step: int) -> int:
    """Index of the stage that step ``step`` (0-based) belongs to; past the end, the last stage."""
    if not stages:
        raise ValueError("the stage table is empty")
    for index, (_, end) in enumerate(stage_bounds(stages)):
        if step < end:
            return index
    return len(stages) - 1


def resolved(stages: list[Stage], base_prompts: int | None = None, base_generations: int | None = None,
             base_length: int | None = None, base_beta: float | None = None) -> list[Stage]:
    """The table with every null filled from the stage before it (the first stage from the trainer's settings)."""
    out = []
    prompts, generations, length, beta = base_prompts, base_generations, base_length, base_beta
    for stage in stages:
        prompts = stage.prompts_per_step if stage.prompts_per_step is not None else prompts
        generations = stage.num_generations if stage.num_generations is not None else generations
        length = stage.max_completion_length if stage.max_completion_length is not None else length
        beta = stage.beta if stage.beta is not None else beta
        out.append(Stage(steps=stage.steps, level=stage.level, max_completion_length=length,
                         prompts_per_step=prompts, num_generations=generations, beta=beta))
    return out


def fit_to_max_steps(stages: list[Stage], max_steps: int | None) -> list[Stage]:
    """Cut the table at ``max_steps`` (a short CI run), or lengthen its last stage to reach it; ``None`` or a
    value < 1 keeps the table as it is."""
    if not max_steps or max_steps < 1:
        return list(stages)
    out, left = [], max_steps
    for stage in stages:
        if left <= 0:
            break
        out.append(Stage(**{**stage.__dict__, "steps": min(stage.steps, left)}))
        left -= out[-1].steps
    if left > 0:
        out[-1] = Stage(**{**out[-1].__dict__, "steps": out[-1].steps + left})
    return out


def trainer_segments(stages: list[Stage], every_stage: bool = False) -> list[tuple[int, int, int]]:
    """Runs of consecutive stages that share a batch shape: ``(first_stage, last_stage, end_step)`` each; with
    ``every_stage`` one run per stage (each stage its own trainer, for a fresh optimizer at every boundary).

    ``stages`` must be resolved (no null ``prompts_per_step``/``num_generations`` after the first explicit one).

    >>> table = [Stage(steps=2, prompts_per_step=4, num_generations=2), Stage(steps=1, prompts_per_step=4,
    ...          num_generations=2)]
    >>> trainer_segments(table), trainer_segments(table, every_stage=True)
    ([(0, 1, 3)], [(0, 0, 2), (1, 1, 3)])
    """
    segments = []
    bounds = stage_bounds(stages)
    first = 0
    for index in range(1, len(stages) + 1):
        if index == len(stages) or every_stage or _shape(stages[index]) != _shape(stages[first]):
            segments.append((first, index - 1, bounds[index - 1][1]))
            first = index
    return segments


def _shape(stage: Stage) -> tuple:
    return stage.prompts_per_step, stage.num_generations


def level_key(level: str | int, num_buckets: int) -> str:
    """A stable name for a level's row stream (``all`` or the bucket number) used by cursors and seeds."""
    from .segmentation import level_number

    number = level_number(level, num_buckets)
    return "all" if number == 0 else str(number)


def level_cursor(stages: list[Stage], step: int, key: str, num_buckets: int) -> int:
    """Prompts of level ``key`` drawn before step ``step``: a pure function of the (resolved) table, so a resume
    (inside a stage or at a boundary) draws exactly the rows the uninterrupted run would have drawn."""
    cursor = 0
    for stage, (start, end) in zip(stages, stage_bounds(stages)):
        if start >= step:
            break
        if level_key(stage.level, num_buckets) == key:
            steps = min(step, end) - start
            cursor += steps * int(stage.prompts_per_step or 0)
    last = stages[-1]
    past = step - total_steps(stages)
    if past > 0 and level_key(last.level, num_buckets) == key:
        cursor += past * int(last.prompts_per_step or 0)
    return cursor


def draw(candidates: list[int], cursor: int, count: int, seed: int, key: str) -> list[int]:
    """Rows ``cursor .. cursor + count - 1`` of an endless stream over ``candidates``: each pass (epoch) is a fresh
    permutation seeded by ``(seed, key, epoch)``, so every rank and every resume computes the same rows."""
    if not candidates:
        raise ValueError(f"level {key!r} has no rows to draw from")
    ordered = sorted(candidates)
    size = len(ordered)
    out, cache = [], {}
    for position in range(cursor, cursor + count):
        epoch, offset = divmod(position, size)
        if epoch not in cache:
            permutation = list(ordered)
            random.Random(f"fastcurl-{seed}-{key}-{epoch}").shuffle(permutation)
            cache[epoch] = permutation
        out.append(cache[epoch][offset])
    return out
