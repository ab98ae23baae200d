"""The ``hapo`` plugin: History-Aware Policy Optimization (Huang, Zhang, Cardie; arXiv 2505.11225).

Name it in a recipe next to a correctness reward::

    rewards: [{name: correctness}]            # any reward with is_correct (boxed_integer on the embedded task)
    plugins:
      hapo: {weight: 1.0, mode: min, reward_type: cosine}

What each hook does, in loop order:

* ``reward_funcs``: adds the reward column ``hapo_length`` with weight ``w``; the function itself returns 0.0 (a
  placeholder), because the real value needs the global batch and the history.
* ``trainer_ready``: checks that a reward decides correctness and sizes the history to the dataset.
* ``shape_rewards``: fills ``hapo_length`` from each problem's history *as it stood before this batch*
  (``length_reward.length_rewards``), so the total is ``correctness + w * length_reward``.
* ``on_rewards``: folds this batch's correct answers into the history, then takes the element-wise minimum across
  ranks (a guard: every rank sees the same global batch, so the update is already identical).
* ``metrics``: ``hapo/share_with_history``, ``hapo/mean_history``, ``hapo/mean_correct_length``,
  ``hapo/mean_length_reward``.
* ``plugin_state`` / ``load_plugin_state``: the history goes into every checkpoint and comes back on resume.

Group filtering (``trainer.group_filter``) reads the ``correct`` flag, never the shaped reward, so it is safe here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import hookimpl
from trl_reasoning.config.schema import ConfigError


REWARD_NAME = "hapo_length"
PAPER = "https://arxiv.org/abs/2505.11225"


class HapoLengthReward:
    """The reward column HAPO fills in ``shape_rewards``; called by TRL, it returns 0.0 for every completion."""

    def __init__(self, weight: float):
        self.__name__ = REWARD_NAME
        self.weight = weight

    def __call__(self, prompts=None, completions=None, **kwargs) -> list[float]:
        return [0.0] * len(completions or [])


class Plugin:
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
        from .history import ShortestCorrectHistory  # torch: imported when a recipe uses HAPO, not at discovery

        self.config = config
        self.history = ShortestCorrectHistory(0, mode=config.mode)
        self.num_problems = 0
        self._last: dict[str, float] = {}

    # -- setup --------------------------------------------------------------------------------------------------------

    @hookimpl
    def reward_funcs(self, recipe):
        return [HapoLengthReward(self.config.weight)]

    @hookimpl
    def trainer_ready(self, trainer):
        if not any(hasattr(func, "is_correct") for func in trainer.reward_funcs):
            raise ConfigError("rewards", "HAPO needs a reward that decides correctness (one with `is_correct`, e.g. "
                                         "`correctness` for math or `boxed_integer` on the embedded task)")
        dataset = trainer.train_dataset
        if dataset is not None and "prompt_id" in dataset.column_names:
            ids = dataset["prompt_id"]
            self.num_problems = len(set(ids))
            self.history.grow(max(ids) + 1 if ids else 0)

    # -- every generation round ---------------------------------------------------------------------------------------

    @hookimpl
    def shape_rewards(self, trainer, batch):
        if batch.correct is None:
            raise ValueError("HAPO: the rollout batch has no `correct` flag (no reward with `is_correct`)")
        from .length_reward import length_rewards

        history = self.history.lookup(batch.prompt_ids)  # (B,) NaN where empty
        rewards = length_rewards(batch.completion_lengths, history, batch.correct, kind=self.config.reward_type,
                                 clip=self.config.clip, tolerance=self.config.tolerance)  # (B,)
        correct_lengths = batch.completion_lengths[batch.correct].float()  # (K,)
        self._last = {
            "mean_length_reward": rewards.mean().item(),
            "mean_correct_length": correct_lengths.mean().item() if correct_lengths.numel() else float("nan"),
        }
        return {REWARD_NAME: rewards}

    @hookimpl
    def on_rewards(self, trainer, batch):
        self.history.update(batch.prompt_ids, batch.completion_lengths, batch.correct)
        self.history.sync_min()

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train":
            return None
        stats = self.history.stats(self.num_problems or None)
        return {f"hapo/{key}": value for key, value in {**stats, **self._last}.items()}

    # -- checkpoints ----------------------------------------------------------------------------------------------

    @hookimpl
    def plugin_state(self, trainer):
        return {"history": self.history.state_dict()}

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self.history.load_state_dict(state["history"])

    @hookimpl
    def model_card_sections(self, recipe, results):
        c = self.config
        return [f"## HAPO\n\nTrained with HAPO's history-aware length reward ([paper]({PAPER})): total reward = "
                f"correctness + {c.weight} x {c.reward_type} length reward against each problem's "
                f"{'shortest' if c.mode == 'min' else 'mean'} correct length so far (clip {c.clip})."]

