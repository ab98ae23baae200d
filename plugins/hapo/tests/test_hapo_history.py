"""HAPO's history without a trainer: pre-batch use, correct-only updates, both modes, state round trip."""

import math

import pytest
import torch

from trl_reason_hapo.history import ShortestCorrectHistory
from trl_reason_hapo.plugin import REWARD_NAME, Plugin
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.rollouts import RolloutBatch


def make_batch(prompt_ids, lengths, correct, step=0, num_generations=2):
    size = len(prompt_ids)
    return RolloutBatch(
        step=step, num_generations=num_generations, prompt_ids=list(prompt_ids), prompts=[""] * size,
        completions=[""] * size, completion_token_ids=[[0] * n for n in lengths],
        completion_lengths=torch.tensor(lengths), truncated=torch.zeros(size, dtype=torch.bool),  # (B,), (B,)
        rewards=torch.stack([torch.tensor(correct, dtype=torch.float32), torch.zeros(size)], dim=1),  # (B, 2)
        reward_names=["correctness", REWARD_NAME], reward_weights=torch.ones(2),
        correct=torch.tensor(correct, dtype=torch.bool))


def plugin(**config):
    return Plugin(Plugin.Config(**config))


def test_first_batch_sees_empty_history_then_uses_it():
    hapo = plugin()
    first = make_batch([0, 0, 1, 1], [100, 50, 80, 90], [True, True, False, False])
    assert hapo.shape_rewards(trainer=None, batch=first)[REWARD_NAME].tolist() == [0.0] * 4  # nothing known yet
    hapo.on_rewards(trainer=None, batch=first)
    # problem 0: shortest correct is 50; problem 1: no correct answer, still empty
    assert hapo.history.values[0].item() == 50 and math.isnan(hapo.history.values[1].item())
    second = make_batch([0, 0, 1, 1], [25, 50, 80, 90], [True, False, True, True], step=1)
    rewards = hapo.shape_rewards(trainer=None, batch=second)[REWARD_NAME]  # (4,)
    # against h = 50 (before this batch's 25 is folded in): cos(0.5 pi/2), min(0, cos(pi/2)), then no history
    assert rewards.tolist() == pytest.approx([math.cos(math.pi / 4), 0.0, 0.0, 0.0], abs=1e-6)
    hapo.on_rewards(trainer=None, batch=second)
    assert hapo.history.values[:2].tolist() == [25.0, 80.0]


def test_wrong_answers_never_update():
    history = ShortestCorrectHistory(3)
    history.update([0, 1, 2], torch.tensor([5, 6, 7]), torch.tensor([False, False, False]))
    assert torch.isnan(history.values).all()
    history.update([2, 2], torch.tensor([40, 10]), torch.tensor([True, False]))
    assert history.values[2].item() == 40  # the shorter answer was wrong


def test_min_and_mean_modes():
    ids, lengths, correct = [4, 4, 4], torch.tensor([30, 10, 20]), torch.tensor([True, True, True])
    low, mean = ShortestCorrectHistory(0, "min"), ShortestCorrectHistory(0, "mean")
    for history in (low, mean):
        history.update(ids, lengths, correct)
        history.update([4], torch.tensor([60]), torch.tensor([True]))
    assert low.size == 5 and low.values[4].item() == 10
    assert mean.values[4].item() == pytest.approx((30 + 10 + 20 + 60) / 4)


def test_state_round_trip_and_mode_check():
    history = ShortestCorrectHistory(2)
    history.update([1], torch.tensor([7]), torch.tensor([True]))
    restored = ShortestCorrectHistory(0)
    restored.load_state_dict(history.state_dict())
    assert torch.equal(restored.values.nan_to_num(-1), history.values.nan_to_num(-1))
    with pytest.raises(ValueError, match="mode"):
        ShortestCorrectHistory(0, "mean").load_state_dict(history.state_dict())


def test_stats_and_metrics():
    hapo = plugin()
    hapo.num_problems = 4
    batch = make_batch([0, 0, 1, 1], [10, 30, 20, 20], [True, True, False, False])
    hapo.shape_rewards(trainer=None, batch=batch)
    hapo.on_rewards(trainer=None, batch=batch)
    metrics = hapo.metrics(trainer=None, mode="train")
    assert metrics["hapo/share_with_history"] == 0.25
    assert metrics["hapo/mean_history"] == 10
    assert metrics["hapo/mean_correct_length"] == 20
    assert hapo.metrics(trainer=None, mode="eval") is None


@pytest.mark.parametrize("bad", [{"weight": 1.5}, {"weight": -0.1}, {"clip": 2.0}])
def test_config_is_checked(bad):
    with pytest.raises(ConfigError, match="plugins.hapo"):
        plugin(**bad)
