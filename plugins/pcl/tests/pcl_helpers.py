"""Test helpers for PCL and the group filter: a reward whose pass rate is known per prompt, and a trainer builder.

``EvenPromptReward`` is right on every other completion of a prompt with an even ``prompt_id`` (pass rate 0.5,
kept by a [0.01, 0.99] band) and never right on an odd one (pass rate 0, filtered), whatever the tiny model writes.
It relies on TRL calling the reward with each group's completions contiguous, which holds when the per-device batch
is a multiple of ``num_generations``.
"""

from __future__ import annotations


class EvenPromptReward:
    __name__ = "even_prompt"

    def __call__(self, prompts=None, completions=None, completion_ids=None, prompt_id=None, **kwargs):
        return [1.0 if int(pid) % 2 == 0 and i % 2 == 0 else 0.0 for i, pid in enumerate(prompt_id)]

    def is_correct(self, values):
        return [v == 1.0 for v in values]


REWARD = [{"name": "pcl_helpers.EvenPromptReward"}]
TRAINER = {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 8,
           "scale_rewards": "none"}


def build_trainer(recipe, pm, output_dir):
    """A real ReasoningGRPOTrainer for ``recipe`` (nothing trained), in training mode."""
    from trl_reasoning.run import build_trainer as build, prepare

    trainer = build(prepare(recipe, pm), str(output_dir))
    trainer.model.train()
    return trainer


def group_rows(trainer, prompt_ids):
    """A generation batch (this rank's rows): each prompt repeated num_generations times."""
    index = {int(p): i for i, p in enumerate(trainer.train_dataset["prompt_id"])}
    return [dict(trainer.train_dataset[index[p]]) for p in prompt_ids for _ in range(trainer.num_generations)]
