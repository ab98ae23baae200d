"""The plugin author's fixtures in trl_reasoning.testing: rollout batches from reward tables, a registered-plugin
context, and the tiny policy."""

from __future__ import annotations

import types
from dataclasses import dataclass, field

import pytest
import torch

from trl_reasoning import hookimpl
from trl_reasoning.rollouts import RolloutBatch


class Counter:
    @dataclass
    class Config:
        step: int = field(default=1, metadata={"help": "How much each completion counts."})

    def __init__(self, config):
        self.config = config
        self.seen = 0

    @hookimpl
    def on_rewards(self, trainer, batch):
        self.seen += self.config.step * batch.size


@pytest.mark.parametrize("rewards, G, correct, groups, pass_rate", [
    ([[1, 0, 0, 1], [0, 0, 0, 0]], None, [[1, 0, 0, 1], [0, 0, 0, 0]], 2, [0.5, 0.0]),
    ([1, 1, 0, 0, 0, 0], 2, 0.5, 3, [1.0, 0.0, 0.0]),
    ([[0.2, 1.0, 1.0]], 3, None, 1, [2 / 3]),  # no correct flag: pass rate from reward > 0... of the total
])
def test_make_rollout_batch_from_a_reward_table(make_rollout_batch, rewards, G, correct, groups, pass_rate):
    batch = make_rollout_batch(rewards=rewards, num_generations=G, correct=correct)
    assert isinstance(batch, RolloutBatch)
    assert batch.num_groups == groups and batch.rewards.shape == (batch.size, 1)
    if correct is None:
        assert batch.correct is None
        assert torch.allclose(batch.group_pass_rate(), torch.tensor([1.0]))  # every reward > 0
    else:
        assert torch.allclose(batch.group_pass_rate(), torch.tensor(pass_rate))
    assert batch.prompt_ids == [g for g in range(groups) for _ in range(batch.num_generations)]
    assert batch.local_slice == slice(0, batch.size)


def test_make_rollout_batch_several_rewards_and_errors(make_rollout_batch):
    batch = make_rollout_batch(rewards={"correct": [[1, 0]], "length": [[0.5, 0.1]]}, reward_weights=[1.0, 2.0],
                               prompt_ids=[17], completion_lengths=[[3, 9]], truncated=[[False, True]], step=5)
    assert batch.reward_names == ["correct", "length"]
    assert torch.allclose(batch.total_reward, torch.tensor([2.0, 0.2]))
    assert batch.completion_lengths.tolist() == [3, 9] and batch.truncated.tolist() == [False, True]
    assert batch.rows[0]["prompt_id"] == 17 and batch.step == 5
    with pytest.raises(ValueError, match="groups of 3"):
        make_rollout_batch(rewards=[1, 0, 1, 0], num_generations=3)
    with pytest.raises(ValueError, match="expected 1 groups of 2"):
        make_rollout_batch(rewards={"a": [[1, 0]], "b": [[1, 0, 1]]})


def test_plugin_context_registers_and_removes(make_rollout_batch, plugin_context):
    module = types.ModuleType("counter_plugin")
    module.Plugin = Counter
    with plugin_context("counter", module, {"step": 2}) as pm:
        batch = make_rollout_batch(rewards=[[1, 0, 0, 1]])
        pm.hook.on_rewards(trainer=None, batch=batch, round=batch.round)
        assert pm.active["counter"].seen == 8
        assert "counter" in pm.installed
    assert "counter" not in pm.installed and "counter" not in pm.active
    assert pm.hook.on_rewards.get_hookimpls() == []
    with plugin_context("counter", Counter, activate=False) as pm:  # installed only: a recipe may name it
        assert "counter" in pm.installed and "counter" not in pm.active
        pm.activate({"counter": {"step": 3}})
        assert pm.active["counter"].config.step == 3
    from trl_reasoning.config.schema import ConfigError

    with pytest.raises(ConfigError, match="steps"):
        with plugin_context("counter", Counter, {"steps": 2}):
            pass


def test_tiny_policy(tiny_policy):
    model, tokenizer = tiny_policy
    ids = tokenizer("What is 2 + 2?", return_tensors="pt")["input_ids"]  # (1, T)
    assert model(ids).logits.shape[:2] == ids.shape  # (1, T, V)


def test_parity_correct_reward():
    from trl_reasoning.testing import ParityCorrect

    reward = ParityCorrect()
    values = reward(completion_ids=[[1, 1], [1, 2], [], [4]])
    assert values == [1.0, 0.0, 1.0, 1.0]
    assert reward.is_correct(values) == [True, False, True, True]
