"""The ``hapo`` plugin: History-Aware Policy Optimization (Huang, Zhang, Cardie; arXiv 2505.11225).

Name it in a recipe next to a correctness reward::

    rewards: [{name: correctness}]            # any reward with is_correct (boxed_integer on the embedded task)
    plugins:
      hapo: {weight: 1.0, mode: min, reward_type: cosine}

What each hook does, in loop order:

* ``reward_funcs``: adds the reward column ``hapo_length`` with weight ``w``; the function itself returns 0.0 (a
  placeholder), because the real value needs the global batch and the history.
* ``trainer_ready``: checks that a reward decides correctness and notes the dataset's problems.
* ``shape_rewards``: fills ``hapo_length`` from each problem's history *as it stood before this batch*
  (``history.history_lengths`` on ``trainer.records``, by ``(prompt_id, prompt_variant)``;
  ``length_reward.length_rewards``), so the total is ``correctness + w * length_reward``.
* The history itself is the core's per-prompt record (``trainer.records``: shortest correct length, correct
  count and total correct length), updated after every plugin's ``on_rewards``, identically on every rank, and
  checkpointed once by the core (``core:records``). A prompt variant (QuestA's ``hint=0.50``) has its own history,
  so the shortest correct answer found with a 50% hint is never the target at 25%.
* ``metrics``: ``hapo/share_with_history``, ``hapo/mean_history``, ``hapo/mean_correct_length``,
  ``hapo/mean_length_reward``.

Group filtering (``trainer.group_filter``) reads the ``correct`` flag, never the shaped reward, so it is safe here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import Composition, ConfigError, hookimpl


logger = logging.getLogger("trl_reasoning.hapo")
REWARD_NAME = "hapo_length"
PAPER = "https://arxiv.org/abs/2505.11225"


class HapoLengthReward:
    """The reward column HAPO fills in ``shape_rewards``; called by TRL, it returns 0.0 for every completion."""

    def __init__(self, weight: float):
        self.__name__ = REWARD_NAME
        self.weight = weight

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        return [0.0] * len(completions or [])


def decides_correctness(func) -> bool:
    """A reward that grades correctness: it reports ``last_correct`` (``reports_correctness``) or has ``is_correct``."""
    return bool(getattr(func, "reports_correctness", False)) or hasattr(func, "is_correct")


class Plugin:
    composition = Composition(shapes=(REWARD_NAME,))

    @dataclass
    class Config:
        weight: float = field(default=1.0, metadata={
            "help": "w: total reward = correctness + w * length reward, w in [0, 1] (the clip keeps every correct "
                    "answer above every wrong one only then). Authors' train_grpo.sh: `--w_lr 1.0`."})
        mode: Literal["min", "mean"] = field(default="min", metadata={
            "help": "History per problem: the shortest correct length (`min`) or the mean correct length (`mean`). "
                    "Authors' default `mode=\"min\"` (grpo_trainer.py)."})
        reward_type: Literal["cosine", "linear"] = field(default="cosine", metadata={
            "help": "Length reward shape: cos(min(L/h, 2) * pi/2), or the linear variant. Authors' default "
                    "`type_lr=\"cosine\"` (utils.py)."})
        clip: float = field(default=0.7, metadata={
            "help": "c: a correct answer's length reward is at least -c (authors' utils.py: `max(-0.7, ...)`)."})
        tolerance: float = field(default=0.1, metadata={
            "help": "Linear type only: no penalty up to (1 + tolerance) * h (authors' utils.py: 0.1)."})

    def __init__(self, config: Config):
        if not 0.0 <= config.weight <= 1.0:
            raise ConfigError("plugins.hapo.weight", f"must lie in [0, 1] (HAPO's guarantee that a correct answer "
                                                     f"always outscores a wrong one needs it), got {config.weight}")
        if not 0.0 <= config.clip <= 1.0:
            raise ConfigError("plugins.hapo.clip", f"must lie in [0, 1], got {config.clip}")
        if config.tolerance < 0:
            raise ConfigError("plugins.hapo.tolerance", f"must be >= 0, got {config.tolerance}")
        self.config = config
        self.records = None  # trainer.records (the core's per-prompt record); set in trainer_ready
        self.prompt_ids: dict[int, None] = {}  # the dataset's problems (ordered set), for the metrics
        self.num_problems = 0
        self._last: dict[str, float] = {}

    # -- setup --------------------------------------------------------------------------------------------------------

    @hookimpl
    def reward_funcs(self, recipe):
        return [HapoLengthReward(self.config.weight)]

    @hookimpl
    def trainer_ready(self, trainer):
        if not any(decides_correctness(func) for func in trainer.reward_funcs):
            raise ConfigError("rewards", "HAPO needs a reward that decides correctness (one with `is_correct`, e.g. "
                                         "`correctness` for math or `boxed_integer` on the embedded task)")
        self.records = trainer.records
        dataset = trainer.train_dataset
        if dataset is not None and "prompt_id" in dataset.column_names:
            self.prompt_ids = dict.fromkeys(int(p) for p in dataset["prompt_id"])
            self.num_problems = len(self.prompt_ids)

    def _records(self, trainer):
        records = getattr(trainer, "records", None)
        if records is None:
            records = self.records
        if records is None:
            raise ValueError("HAPO reads its history from the trainer's per-prompt record (trainer.records); "
                             "this trainer has none")
        return records

    # -- every generation round ---------------------------------------------------------------------------------------

    @hookimpl
    def shape_rewards(self, trainer, batch):
        if batch.correct is None:
            raise ValueError("HAPO: the rollout batch has no `correct` flag (no reward with `is_correct`)")
        from .history import history_lengths  # torch: imported when a recipe uses HAPO, not at discovery
        from .length_reward import length_rewards

        for pid in batch.prompt_ids:
            self.prompt_ids.setdefault(int(pid), None)  # (a trainer without a dataset column: the problems seen)
        # (B,) NaN where empty: the record as it stood before this batch (the core updates it after on_rewards)
        history = history_lengths(self._records(trainer), batch.prompt_ids, batch.variants, self.config.mode)
        rewards = length_rewards(batch.completion_lengths, history, batch.correct, kind=self.config.reward_type,
                                 clip=self.config.clip, tolerance=self.config.tolerance)  # (B,)
        correct_lengths = batch.completion_lengths[batch.correct].float()  # (K,)
        self._last = {
            "mean_length_reward": rewards.mean().item(),
            "mean_correct_length": correct_lengths.mean().item() if correct_lengths.numel() else float("nan"),
        }
        return {REWARD_NAME: rewards}

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train":
            return None
        from .history import history_stats

        records = getattr(trainer, "records", None) if trainer is not None else None
        records = records if records is not None else self.records
        stats = history_stats(records, self.prompt_ids, self.config.mode, self.num_problems or None) \
            if records is not None else {}
        return {f"hapo/{key}": value for key, value in {**stats, **self._last}.items()}

    # -- checkpoints ----------------------------------------------------------------------------------------------

    @hookimpl
    def load_plugin_state(self, trainer, state):
        # HAPO keeps no state of its own: the history is the core's record (`core:records`), restored by the core
        if isinstance(state, dict) and "history" in state:
            logger.warning("hapo: this checkpoint holds HAPO's own history from before the core's per-prompt record; "
                           "it is not restored, and the history restarts from the record in the checkpoint")

    @hookimpl
    def model_card_sections(self, recipe, results):
        c = self.config
        return [f"## HAPO\n\nTrained with HAPO's history-aware length reward ([paper]({PAPER})): total reward = "
                f"correctness + {c.weight} x {c.reward_type} length reward against each problem's "
                f"{'shortest' if c.mode == 'min' else 'mean'} correct length so far (clip {c.clip})."]

