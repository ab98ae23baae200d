"""HAPO's history without a trainer: read from the core's per-prompt record before each batch, correct-only
updates, both modes, per prompt variant (QuestA's hint fraction), metrics.

The core updates ``trainer.records`` after every plugin's ``on_rewards``; here the tests call ``records.update``
where the core would."""

import math

import pytest
import torch

from trl_reason_hapo.history import history_lengths, history_stats
from trl_reason_hapo.length_reward import length_rewards
from trl_reason_hapo.plugin import REWARD_NAME, Plugin
from trl_reasoning import ConfigError, RolloutBatch
from trl_reasoning.records import PromptRecords  # (public as trl_reasoning.PromptRecords once H7 adds it)


def make_batch(prompt_ids, lengths, correct, step=0, num_generations=2, variants=None):
    size = len(prompt_ids)
    return RolloutBatch(
        step=step, num_generations=num_generations, prompt_ids=list(prompt_ids), prompts=[""] * size,
        completions=[""] * size, completion_token_ids=[[0] * n for n in lengths],
        completion_lengths=torch.tensor(lengths), truncated=torch.zeros(size, dtype=torch.bool),  # (B,), (B,)
        rewards=torch.stack([torch.tensor(correct, dtype=torch.float32), torch.zeros(size)], dim=1),  # (B, 2)
        reward_names=["correctness", REWARD_NAME], reward_weights=torch.ones(2),
        correct=torch.tensor(correct, dtype=torch.bool), variants=list(variants or []))


def plugin(**config):
    hapo = Plugin(Plugin.Config(**config))
    hapo.records = PromptRecords()  # what trainer_ready takes from the trainer
    return hapo


def step(hapo, batch):
    """One generation round as the core runs it: shape, then (after on_rewards) the record update."""
    rewards = hapo.shape_rewards(trainer=None, batch=batch)[REWARD_NAME]  # (B,)
    hapo.records.update(batch)
    return rewards


def test_first_batch_sees_empty_history_then_uses_it():
    hapo = plugin()
    first = make_batch([0, 0, 1, 1], [100, 50, 80, 90], [True, True, False, False])
    assert step(hapo, first).tolist() == [0.0] * 4  # nothing known yet
    # problem 0: shortest correct is 50; problem 1: no correct answer, still empty
    values = history_lengths(hapo.records, [0, 1])
    assert values[0].item() == 50 and math.isnan(values[1].item())
    second = make_batch([0, 0, 1, 1], [25, 50, 80, 90], [True, False, True, True], step=1)
    rewards = step(hapo, second)  # (4,)
    # against h = 50 (before this batch's 25 is folded in): cos(0.5 pi/2), min(0, cos(pi/2)), then no history
    assert rewards.tolist() == pytest.approx([math.cos(math.pi / 4), 0.0, 0.0, 0.0], abs=1e-6)
    assert history_lengths(hapo.records, [0, 1]).tolist() == [25.0, 80.0]


def test_wrong_answers_never_update():
    records = PromptRecords()
    records.update(make_batch([0, 1, 2], [5, 6, 7], [False, False, False], num_generations=1))
    assert torch.isnan(history_lengths(records, [0, 1, 2])).all()
    records.update(make_batch([2, 2], [40, 10], [True, False]))
    assert history_lengths(records, [2]).item() == 40  # the shorter answer was wrong


def test_min_and_mean_modes():
    records = PromptRecords()
    records.update(make_batch([4, 4, 4], [30, 10, 20], [True, True, True], num_generations=3))
    records.update(make_batch([4], [60], [True], num_generations=1))
    assert history_lengths(records, [4], mode="min").item() == 10
    assert history_lengths(records, [4], mode="mean").item() == pytest.approx((30 + 10 + 20 + 60) / 4)
    with pytest.raises(ValueError, match="mode"):
        history_lengths(records, [4], mode="median")
    with pytest.raises(ValueError, match="prompt_id"):
        history_lengths(records, [-1])


def test_the_history_is_per_prompt_variant():
    """QuestA + HAPO: the shortest correct length found with a 50% hint is not the target once the hint is 25%.
    Keyed by prompt_id alone, the long (but correct) answers at 25% would all be pushed down to -0.7."""
    hapo = plugin()
    hinted = make_batch([0, 0], [40, 60], [True, True], variants=["hint=0.50"] * 2)
    step(hapo, hinted)
    later = make_batch([0, 0], [150, 200], [True, True], step=100, variants=["hint=0.25"] * 2)
    assert step(hapo, later).tolist() == [0.0, 0.0]  # no history yet for this variant: no length reward
    as_if_one_history = length_rewards(later.completion_lengths, torch.tensor([40.0, 40.0], dtype=torch.float64),
                                       later.correct)  # (2,) what a prompt_id-keyed history gave
    assert as_if_one_history.tolist() == pytest.approx([-0.7, -0.7])
    assert history_lengths(hapo.records, [0, 0], ["hint=0.50", "hint=0.25"]).tolist() == [40.0, 150.0]
    again = make_batch([0, 0], [100, 300], [True, False], step=101, variants=["hint=0.25"] * 2)
    assert step(hapo, again).tolist() == pytest.approx([math.cos(100 / 150 * math.pi / 2), -1.0], abs=1e-6)
    plain = make_batch([0, 0], [30, 30], [True, True], step=102, variants=["", ""])  # unhinted (evaluation-like)
    assert step(hapo, plain).tolist() == [0.0, 0.0]


def test_one_variant_gives_the_same_numbers_as_before():
    """No QuestA: every row's variant is "" and the history is the authors' per-problem one (a replay)."""
    from hapo_helpers import ReplayHistory

    hapo, replay = plugin(), ReplayHistory()
    batches = [make_batch([0, 0, 1, 1], [12, 7, 9, 30], [True, True, False, True], step=0),
               make_batch([0, 0, 1, 1], [5, 20, 40, 10], [False, True, True, True], step=1),
               make_batch([1, 1, 0, 0], [8, 50, 6, 16], [True, True, True, False], step=2)]
    for batch in batches:
        want = length_rewards(batch.completion_lengths, replay.lookup(batch.prompt_ids), batch.correct)  # (B,)
        torch.testing.assert_close(step(hapo, batch), want)
        replay.update(batch.prompt_ids, batch.completion_lengths, batch.correct)


def test_stats_and_metrics():
    hapo = plugin()
    hapo.num_problems = 4
    batch = make_batch([0, 0, 1, 1], [10, 30, 20, 20], [True, True, False, False])
    step(hapo, batch)
    metrics = hapo.metrics(trainer=None, mode="train")
    assert metrics["hapo/share_with_history"] == 0.25
    assert metrics["hapo/mean_history"] == 10
    assert metrics["hapo/mean_correct_length"] == 20
    assert hapo.metrics(trainer=None, mode="eval") is None
    records = PromptRecords()
    records.update(make_batch([0, 0], [10, 30], [True, True], variants=["hint=0.50"] * 2))
    records.update(make_batch([0, 0], [50, 70], [True, False], variants=["", ""]))
    assert history_stats(records, [0, 1]) == {"share_with_history": 0.5, "mean_history": 30.0}


@pytest.mark.parametrize("bad", [{"weight": 1.5}, {"weight": -0.1}, {"clip": 2.0}])
def test_config_is_checked(bad):
    with pytest.raises(ConfigError, match="plugins.hapo"):
        plugin(**bad)
