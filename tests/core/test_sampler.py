"""The train sampler's order depends only on (seed, epoch): what makes a resume in a later epoch keep the order."""

from __future__ import annotations

import pytest
from trl.trainer.utils import RepeatSampler

from trl_reasoning.trainers.sampler import EpochSeededRepeatSampler

ARGS = dict(mini_repeat_count=2, batch_size=3, repeat_count=2)


def _epoch(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def test_epoch_zero_is_trls_order():
    data = list(range(12))
    assert list(EpochSeededRepeatSampler(data, seed=5, **ARGS)) == list(RepeatSampler(data, seed=5, **ARGS))


def test_each_epoch_order_is_independent_of_the_epochs_before():
    data = list(range(12))
    continuous = EpochSeededRepeatSampler(data, seed=5, **ARGS)
    orders = [_epoch(continuous, e) for e in range(3)]
    fresh = EpochSeededRepeatSampler(data, seed=5, **ARGS)  # a new process that starts in epoch 2
    assert _epoch(fresh, 2) == orders[2]
    assert orders[0] != orders[1] != orders[2]
    # TRL's own sampler in a new process replays epoch 0 where the uninterrupted one is in epoch 2
    trl_continuous = RepeatSampler(data, seed=5, **ARGS)
    trl_orders = [list(trl_continuous) for _ in range(3)]
    assert list(RepeatSampler(data, seed=5, **ARGS)) == trl_orders[0] != trl_orders[2]


@pytest.mark.parametrize("shuffle,seed", [(False, 5), (True, None)])
def test_without_shuffle_or_seed_it_is_trls_sampler(shuffle, seed):
    data = list(range(6))
    ours = EpochSeededRepeatSampler(data, shuffle=shuffle, seed=seed, **ARGS)
    ours.set_epoch(3)
    if not shuffle:
        assert list(ours) == list(RepeatSampler(data, shuffle=False, seed=seed, **ARGS))
    else:
        assert sorted(ours) == sorted(RepeatSampler(data, shuffle=True, seed=seed, **ARGS))


def test_like_copies_trls_settings():
    trl_sampler = RepeatSampler(list(range(8)), mini_repeat_count=4, batch_size=2, repeat_count=3, shuffle=True,
                                seed=11)
    ours = EpochSeededRepeatSampler.like(trl_sampler)
    assert (ours.mini_repeat_count, ours.batch_size, ours.repeat_count, ours.shuffle, ours.seed) == (4, 2, 3, True, 11)
    assert list(ours) == list(trl_sampler)
