"""FastCuRL (Song et al., arXiv 2503.17287): length-aware data levels and staged context extension.

Name it in a recipe::

    plugins:
      fastcurl:
        split: mean                      # the authors' rule: short <= mean prompt chars < long
        stages:
          - {level: short, steps: 160, max_completion_length: 8192,  prompts_per_step: 128, num_generations: 8,  beta: 0.001}
          - {level: all,   steps: 590, max_completion_length: 16384, prompts_per_step: 64,  num_generations: 8,  beta: 0.001}
          - {level: long,  steps: 230, max_completion_length: 24576, prompts_per_step: 64,  num_generations: 8,  beta: 0.001}
          - {level: all,   steps: 580, max_completion_length: 16384, prompts_per_step: 64,  num_generations: 16, beta: 0.001}

How each part acts (docs/plugins/fastcurl.md has the whole story):

* ``run_stages``: each stage runs in its own trainer, started from the checkpoint at the boundary with a fresh
  AdamW and LR scheduler (``fresh_optimizer``, the default, as the authors' separate verl jobs); with
  ``fresh_optimizer: false`` stages that share a batch shape run in one trainer and the optimizer state carries
  over, and only a change of prompts per step or generations per prompt starts a new trainer (same
  ``trl-reason run``).
* ``schedule``: at the first step of each stage the core applies ``max_completion_length`` and ``beta``; the stage
  and level are logged as ``schedule/stage`` and ``schedule/level`` (0 = all, 1 = short, k = long).
* ``select_prompts`` + ``candidate_rows``: at generation time the sampler's rows are replaced by rows of the
  current level (zero lag). The rows a step draws are a pure function of the stage table and the step, so a resume
  inside a stage or at a boundary neither skips nor repeats data. Refill rounds (``round.is_refill``) draw through
  ``candidate_rows`` only.
* With another selector (``compose: {select_prompts: pcl}``) FastCuRL's ``select_prompts`` steps aside
  (``Composition(yields=("select_prompts",))``) and ``candidate_rows`` alone keeps every draw inside the level.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import Composition, hookimpl

from .segmentation import level_indices, level_number, prompt_chars, split_thresholds
from .stages import (Stage, draw, fit_to_max_steps, level_cursor, level_key, resolved, stage_at, total_steps,
                     trainer_segments)

logger = logging.getLogger("trl_reasoning.fastcurl")


def paper_stages() -> list[Stage]:
    """FastCuRL-1.5B-Preview as released (`run_fastcurl_1.5b_{8k_stage1,16k_stage2,24k_stage3,16k_stage4}.sh`)."""
    return [
        Stage(level="short", steps=160, max_completion_length=8192, prompts_per_step=128, num_generations=8,
              beta=0.001),
        Stage(level="all", steps=590, max_completion_length=16384, prompts_per_step=64, num_generations=8,
              beta=0.001),
        Stage(level="long", steps=230, max_completion_length=24576, prompts_per_step=64, num_generations=8,
              beta=0.001),
        Stage(level="all", steps=580, max_completion_length=16384, prompts_per_step=64, num_generations=16,
              beta=0.001),
    ]


class Plugin:
    """FastCuRL's data levels and stage table (see the module docstring)."""

    # With `compose: {select_prompts: pcl}` (or another selector) FastCuRL's own draw steps aside and the level only
    # narrows the rows (candidate_rows): the selector picks within the current level.
    composition = Composition(yields=("select_prompts",))

    @dataclass
    class Config:
        stages: list[Stage] = field(default_factory=paper_stages, metadata={
            "help": "The stage table, in order. Default: FastCuRL-1.5B-Preview's four released stages (8K short 160 "
                    "steps at 128 prompts x 8; 16K all 590 at 64 x 8; 24K long 230 at 64 x 8; 16K all 580 at 64 x "
                    "16; `kl_loss_coef: 0.001`). `trainer.max_steps`, when set, cuts the table (or lengthens its "
                    "last stage)."})
        split: Literal["mean", "quantile", "thresholds"] = field(default="mean", metadata={
            "help": "How levels are cut by prompt length in characters: `mean` (the released files: L1 = length <= "
                    "317.24, the mean, L3 = longer), `quantile` (at `quantiles`) or `thresholds` (given)."})
        quantiles: list[float] = field(default_factory=list, metadata={
            "help": "Quantiles for `split: quantile`, e.g. [0.5] (median) or [0.333, 0.667] (three buckets)."})
        thresholds: list[float] = field(default_factory=list, metadata={
            "help": "Character thresholds for `split: thresholds`, strictly increasing (bucket i holds lengths in "
                    "(t[i-1], t[i]])."})
        seed: int | None = field(default=None, metadata={
            "help": "Seed of each level's row order; default: the recipe's seed."})
        fresh_optimizer: bool = field(default=True, metadata={
            "help": "Start every stage with a fresh AdamW and LR scheduler (each stage its own trainer, from the "
                    "checkpoint at the boundary), as the authors' stages are separate verl jobs started from the "
                    "previous stage's weights. false: the optimizer state carries over, and stages of one batch "
                    "shape share a trainer. Not with DeepSpeed."})

    def __init__(self, config: "Plugin.Config"):
        self.config = config
        if not config.stages:
            raise ValueError("fastcurl needs at least one stage in `stages`")
        if config.split == "quantile" and not config.quantiles:
            raise ValueError("split: quantile needs `quantiles`, e.g. [0.5]")
        if config.split == "thresholds" and not config.thresholds:
            raise ValueError("split: thresholds needs `thresholds`, e.g. [317.24]")
        buckets = {"mean": 2, "quantile": len(config.quantiles) + 1, "thresholds": len(config.thresholds) + 1}
        for index, stage in enumerate(config.stages):
            try:
                level_number(stage.level, buckets[config.split])
            except ValueError as exc:
                raise ValueError(f"stages[{index}].level: {exc}") from None
        self.table: list[Stage] = list(config.stages)  # resolved and fitted to max_steps once the trainer is known
        self.base: tuple | None = None
        self.lengths: list[int] = []
        self.thresholds: list[float] = []
        self.levels: dict[str, list[int]] = {}
        self.seed = config.seed
        self.last_selection: list[int] = []  # dataset rows of this plugin's last draw
        self.index_of: dict[int, int] = {}  # prompt_id -> dataset row
        self.last_generated: list[int] = []  # dataset rows generated at the last step, refills included (metrics)
        self.generated_step = -1
        self.resumed_state: dict | None = None

    # -- the trainers of a run -----------------------------------------------------------------------------------

    def _base_of(self, args) -> tuple:
        generations = int(args.num_generations)
        prompts = int(args.generation_batch_size) // generations if args.generation_batch_size else None
        return prompts, generations, int(args.max_completion_length), float(args.beta)

    def _fit(self, max_steps) -> list[Stage]:
        table = resolved(self.config.stages, *self.base)
        return fit_to_max_steps(table, max_steps)

    @hookimpl
    def run_stages(self, recipe, args):
        self.base = self._base_of(args)
        self.table = self._fit(args.max_steps if args.max_steps and args.max_steps > 0 else None)
        if self.seed is None:
            self.seed = recipe.seed
        world = int(getattr(args, "world_size", 1) or 1)
        per_device = int(args.per_device_train_batch_size)
        plan = []
        for first, last, end in trainer_segments(self.table, every_stage=self.config.fresh_optimizer):
            stage = self.table[first]
            overrides: dict = {"max_steps": end}
            if first > 0 and self.config.fresh_optimizer:
                overrides["fresh_optimizer"] = True
            if stage.prompts_per_step is not None and stage.num_generations is not None:
                rows = stage.prompts_per_step * stage.num_generations
                if rows % (per_device * world) != 0:
                    raise ValueError(
                        f"fastcurl stage {first + 1}: prompts_per_step x num_generations = {stage.prompts_per_step} x "
                        f"{stage.num_generations} = {rows} completions per step must be a multiple of "
                        f"per_device_train_batch_size ({per_device}) x processes ({world}); change one of them")
                overrides.update(num_generations=stage.num_generations,
                                 gradient_accumulation_steps=rows // (per_device * world),
                                 generation_batch_size=None, steps_per_generation=None)
            if stage.max_completion_length is not None:
                overrides["max_completion_length"] = stage.max_completion_length
            betas = [s.beta for s in self.table[first:last + 1] if s.beta is not None]
            if betas:  # the reference model must exist from the start of the trainer when any stage uses KL
                overrides["beta"] = max(betas)
            plan.append(overrides)
        return plan

    # -- data levels ---------------------------------------------------------------------------------------------

    @hookimpl
    def trainer_ready(self, trainer):
        if self.base is None:  # a trainer built by hand, without run_recipe
            self.base = self._base_of(trainer.args)
            self.table = self._fit(None)
        if self.seed is None:
            self.seed = int(trainer.args.seed)
        dataset = trainer.train_dataset
        self.lengths = [prompt_chars(p) for p in dataset["prompt"]]
        if "prompt_id" in dataset.column_names:
            self.index_of = {int(pid): i for i, pid in enumerate(dataset["prompt_id"])}
        self.thresholds = split_thresholds(self.lengths, self.config.split, self.config.quantiles,
                                           self.config.thresholds)
        self.levels = {}
        for stage in self.table:
            key = self._key(stage)
            if key not in self.levels:
                self.levels[key] = level_indices(self.lengths, self.thresholds, stage.level)
                if not self.levels[key]:
                    raise ValueError(f"fastcurl level {stage.level!r} has no rows (thresholds {self.thresholds} on "
                                     f"{len(self.lengths)} prompts)")
        if trainer.accelerator.is_main_process:
            sizes = ", ".join(f"{key}: {len(rows)}" for key, rows in sorted(self.levels.items()))
            logger.info("fastcurl: thresholds %s (chars); rows per level %s", self.thresholds, sizes)

    @property
    def num_buckets(self) -> int:
        return len(self.thresholds) + 1

    def _key(self, stage: Stage) -> str:
        return level_key(stage.level, self.num_buckets)

    def stage_index(self, step: int) -> int:
        return stage_at(self.table, step)

    @hookimpl
    def schedule(self, trainer, step):
        index = self.stage_index(step)
        stage = self.table[index]
        out = {"stage": index + 1, "level": level_number(stage.level, self.num_buckets),
               "level_rows": len(self.levels[self._key(stage)])}
        if stage.max_completion_length is not None:
            out["max_completion_length"] = stage.max_completion_length
        if stage.beta is not None:  # the core refuses beta > 0 when the trainer was built without a reference
            out["beta"] = stage.beta
        return out

    @hookimpl
    def candidate_rows(self, trainer, dataset, indices):
        allowed = set(self.levels[self._key(self.table[self.stage_index(trainer.state.global_step)])])
        return [i for i in indices if i in allowed]

    @hookimpl
    def select_prompts(self, trainer, rows, num_prompts, round):
        if round.is_refill:
            # a dynamic-sampling refill: its rows already come from the level (the core draws them through
            # candidate_rows), and this step's block of the stream is used up
            return None
        step = round.step
        stage = self.table[self.stage_index(step)]
        if stage.prompts_per_step is not None and num_prompts != stage.prompts_per_step:
            logger.warning("fastcurl: the trainer asks for %d prompts at step %d, the stage table says %d; rows are "
                           "drawn as the table counts them (set the batch through the stage table)",
                           num_prompts, step, stage.prompts_per_step)
        dataset = trainer.train_dataset
        candidates = trainer.eligible_rows()  # every plugin's candidate_rows, this one's level included
        key = self._key(stage)
        cursor = level_cursor(self.table, step, key, self.num_buckets)
        chosen = draw(list(candidates), cursor, num_prompts, int(self.seed), key)
        self.last_selection = chosen
        return [dict(dataset[i]) for i in chosen]

    @hookimpl
    def on_rewards(self, trainer, batch):
        # From what was generated, whoever selected it (this plugin, or PCL within this level under
        # `compose: {select_prompts: pcl}`); the dataset's prompt length, before any hint is added.
        G = batch.num_generations
        rows = [self.index_of.get(int(batch.prompt_ids[g * G])) for g in range(batch.num_groups)]
        if batch.step != self.generated_step:  # a new step; refill rounds of the same step add to it
            self.generated_step, self.last_generated = batch.step, []
        self.last_generated += [i for i in rows if i is not None]

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train" or not self.last_generated:
            return None
        chars = [self.lengths[i] for i in self.last_generated]
        return {"fastcurl/prompt_chars_mean": sum(chars) / len(chars), "fastcurl/prompt_chars_min": min(chars),
                "fastcurl/prompt_chars_max": max(chars)}

    # -- checkpoints ---------------------------------------------------------------------------------------------

    def state_at(self, step: int) -> dict:
        index = self.stage_index(step)
        return {
            "step": step, "stage": index + 1, "level": level_number(self.table[index].level, self.num_buckets),
            "cursors": {key: level_cursor(self.table, step, key, self.num_buckets) for key in sorted(self.levels)},
            "thresholds": list(self.thresholds), "num_rows": len(self.lengths),
            "table": [dict(stage.__dict__) for stage in self.table],
        }

    @hookimpl
    def plugin_state(self, trainer):
        return self.state_at(trainer.state.global_step)

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self.resumed_state = dict(state)
        now = self.state_at(int(state["step"]))
        if state.get("num_rows") != now["num_rows"] or any(
                abs(a - b) > 1e-6 for a, b in zip(state.get("thresholds", []), now["thresholds"])):
            logger.warning("fastcurl: the checkpoint was made on other data (%s rows, thresholds %s; now %s rows, %s)",
                           state.get("num_rows"), state.get("thresholds"), now["num_rows"], now["thresholds"])
        if state.get("cursors") != now["cursors"] or state.get("stage") != now["stage"]:
            logger.warning("fastcurl: the stage table changed before step %s (checkpoint: stage %s, rows drawn %s; "
                           "this recipe: stage %s, rows drawn %s); data order follows this recipe",
                           state["step"], state.get("stage"), state.get("cursors"), now["stage"], now["cursors"])


__all__ = ["Plugin", "Stage", "paper_stages", "total_steps"]
