"""Test helpers for QuestA's group filter: a reward whose pass rate is fixed by the prompt, and a recorder.

``PromptIdReward`` makes every group's pass rate a function of its ``prompt_id``, whatever the tiny model writes:
``prompt_id % 4 == 0`` all right (1.0), ``== 1`` all wrong (0.0), ``2`` or ``3`` right on every other completion
(0.5). So the band [0.05, 0.95] keeps exactly the ``% 4 >= 2`` groups, half of them. It relies on TRL calling the reward with each group's
completions contiguous (the per-device batch is a multiple of ``num_generations``, which is even).
"""

from __future__ import annotations

from trl_reasoning import hookimpl


class PromptIdReward:
    __name__ = "prompt_id_band"

    def __call__(self, prompts=None, completions=None, completion_ids=None, prompt_id=None, **kwargs):
        return [1.0 if int(pid) % 4 == 0 or (int(pid) % 4 >= 2 and i % 2 == 0) else 0.0
                for i, pid in enumerate(prompt_id)]

    def is_correct(self, values):
        return [v == 1.0 for v in values]


REWARD = [{"name": "questa_helpers.PromptIdReward"}]


class LossBatchRecorder:
    """Records, per step, the groups of the first generation round and the groups that reach the loss."""

    def __init__(self):
        self.first_rounds: dict[int, list[int]] = {}
        self.loss_batches: list[dict] = []

    @hookimpl
    def on_rewards(self, trainer, batch):
        step = trainer.state.global_step
        if step not in self.first_rounds:  # the sampler's draw; later calls this step are refill rounds
            self.first_rounds[step] = _group_ids(batch)

    @hookimpl
    def extra_batch_fields(self, trainer, batch, inputs, output):
        G = batch.num_generations
        self.loss_batches.append({
            "step": trainer.state.global_step,
            "prompt_ids": _group_ids(batch),
            "pass_rates": [float(r) for r in batch.group_pass_rate()],
            "prompts": [batch.prompts[g * G] for g in range(batch.num_groups)],
            "rows": [batch.rows[g * G] for g in range(batch.num_groups)],
            # (B,) -> (num_groups,): how much advantage each group carries into the loss
            "advantage_mass": output["advantages"].abs().view(batch.num_groups, G).sum(dim=1).tolist(),
        })
        return None


def _group_ids(batch) -> list[int]:
    G = batch.num_generations
    return [int(batch.prompt_ids[g * G]) for g in range(batch.num_groups)]
