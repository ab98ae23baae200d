"""Every per-step hook gets the ``GenerationRound`` of the round it serves: refill rounds say so, the round index
grows within a step, the run's round counter is checkpointed, and ``trainer.records`` sees every round."""

from __future__ import annotations

from pathlib import Path

import torch

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.trainers.grpo import PLUGIN_STATE_FILE


class RoundProbe:
    """Refuses every group of a step's first round (so one refill round always follows) and records the rounds."""

    def __init__(self):
        self.seen: dict[str, list] = {}

    def _see(self, hook, round):
        self.seen.setdefault(hook, []).append(None if round is None else (round.step, round.round_index,
                                                                          round.is_refill, round.generation))

    @hookimpl
    def select_prompts(self, rows, num_prompts, round):
        self._see("select_prompts", round)
        return None

    @hookimpl
    def transform_prompt(self, row, round):
        self._see("transform_prompt", round)
        return None

    @hookimpl
    def candidate_rows(self, indices, round):
        self._see("candidate_rows", round)
        return None

    @hookimpl
    def shape_rewards(self, batch, round):
        self._see("shape_rewards", round)
        assert batch.round is round

    @hookimpl
    def on_rewards(self, batch, round):
        self._see("on_rewards", round)

    @hookimpl
    def filter_groups(self, batch, round):
        self._see("filter_groups", round)
        return torch.full((batch.num_groups,), round.is_refill, dtype=torch.bool)  # (num_groups,)

    @hookimpl
    def advantages(self, batch, round):
        self._see("advantages", round)
        return None


def test_refill_rounds_carry_their_context(make_recipe, run_recipe_steps):
    probe = RoundProbe()
    pm = PluginManager()
    pm.register_active("probe", probe)
    recipe = make_recipe(trainer={"group_filter": [0.0, 1.0], "group_filter_max_rounds": 2,
                                  "save_strategy": "steps", "save_steps": 2})
    trainer = run_recipe_steps(recipe, steps=2, pm=pm)["trainer"]

    rounds = [(0, 0, False, 0), (0, 1, True, 1), (1, 0, False, 2), (1, 1, True, 3)]
    for hook in ("select_prompts", "shape_rewards", "on_rewards", "filter_groups", "advantages"):
        assert probe.seen[hook] == rounds, hook
    prompts = trainer.args.per_device_train_batch_size // trainer.num_generations  # unique prompts per round
    assert probe.seen["transform_prompt"] == [r for r in rounds for _ in range(prompts)]
    assert probe.seen["candidate_rows"] == [(0, 1, True, 1), (1, 1, True, 3)]  # only the refill draws rows
    # the kept groups are the refill's, so the step's batch is the refill round's
    assert trainer.last_batch.round.step == 1
    # the record holds every graded completion of every round, refused groups included
    total = sum(trainer.records.get(*key).attempts for key in trainer.records.keys())
    assert total == len(rounds) * trainer.args.per_device_train_batch_size
    state = torch.load(Path(recipe.output_dir) / "checkpoint-2" / PLUGIN_STATE_FILE, weights_only=False)
    assert state["core:records"]["generation"] == len(rounds)
    assert state["core:records"]["records"] == trainer.records.state_dict()
