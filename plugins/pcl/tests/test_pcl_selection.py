"""PCL's pure selection math and the refill planner, table-driven."""

import math

import pytest
import torch
from trl_reason_pcl.selection import draw_pool, effective_ratio, explained_variance, fill_to, nearest_to_target

from trl_reasoning.trainers.refill import plan_groups


@pytest.mark.parametrize("values, target, count, expected", [
    ([0.9, 0.5, 0.1, 0.45], 0.5, 2, [1, 3]),
    ([0.9, 0.5, 0.1, 0.45], 0.5, 1, [1]),
    ([0.0, 1.0, 0.75, 0.25], 0.5, 2, [2, 3]),        # tie: pool order
    ([0.5, 0.5, 0.5], 0.5, 2, [0, 1]),               # all tied (the untrained head): the first (sampler) rows
    ([0.2, 0.8, 0.7], 0.8, 2, [1, 2]),               # another tau
    ([0.3, 0.31, 0.9, 0.05], 0.0, 3, [3, 0, 1]),
])
def test_nearest_to_target_picks_the_prompts_nearest_tau(values, target, count, expected):
    assert nearest_to_target(torch.tensor(values), target, count) == expected


def test_draw_pool_sampler_rows_first_then_seeded_draws_within_eligible_rows():
    pool = draw_pool([3, 9, 3], eligible=range(100), size=8, seed=42, step=7)
    assert pool[:2] == [3, 9] and len(pool) == len(set(pool)) == 8
    assert pool == draw_pool([3, 9], eligible=range(100), size=8, seed=42, step=7)   # deterministic
    assert pool != draw_pool([3, 9], eligible=range(100), size=8, seed=42, step=8)   # keyed by step
    assert pool != draw_pool([3, 9], eligible=range(100), size=8, seed=42, step=7, round_index=1)
    narrowed = draw_pool([3, 9], eligible=range(10, 20), size=6, seed=42, step=7)    # 3 and 9 not eligible
    assert set(narrowed) <= set(range(10, 20)) and len(narrowed) == 6
    assert sorted(draw_pool([], eligible=[1, 2], size=5, seed=0, step=0)) == [1, 2]  # fewer eligible than size
    assert fill_to([1, 2], 5) == [1, 2, 1, 2, 1]


@pytest.mark.parametrize("predicted, observed, expected", [
    ([0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 0.0, 1.0], 0.0),
    ([0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], 1.0),
    ([0.1, 0.9, 0.1, 0.9], [0.0, 1.0, 0.0, 1.0], 0.96),    # residual variance 0.01 of 0.25
    ([1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0], -3.0),
])
def test_explained_variance(predicted, observed, expected):
    assert explained_variance(torch.tensor(predicted), torch.tensor(observed)) == pytest.approx(expected)


def test_explained_variance_is_nan_without_variance():
    assert math.isnan(explained_variance(torch.tensor([0.2, 0.3]), torch.tensor([0.5, 0.5])))


@pytest.mark.parametrize("rewards, G, expected", [
    ([1, 0, 1, 0, 0, 0, 0, 0], 4, 0.5),
    ([1, 1, 1, 1, 0, 0, 0, 0], 4, 0.0),
    ([1, 0, 0, 0, 0, 1, 0, 0], 4, 1.0),
    ([1.0, 0.5, 0.5, 0.5], 4, 1.0),
])
def test_effective_ratio(rewards, G, expected):
    assert effective_ratio(torch.tensor(rewards, dtype=torch.float), G) == pytest.approx(expected)


@pytest.mark.parametrize("keeps, m, picks, kept", [
    ([[True, False, True]], 3, [(0, 0), (0, 2), (0, 1)], [True, True, False]),
    ([[False, False], [True, True]], 2, [(1, 0), (1, 1)], [True, True]),
    ([[False, True], [False, True]], 2, [(0, 1), (1, 1)], [True, True]),
    ([[False, False], [False, True]], 2, [(1, 1), (0, 0)], [True, False]),    # rounds ran out: filtered fill
    ([[True, True], [True, True]], 2, [(0, 0), (0, 1)], [True, True]),
])
def test_plan_groups(keeps, m, picks, kept):
    got_picks, got_kept = plan_groups([torch.tensor(k) for k in keeps], m)
    assert got_picks == picks and got_kept.tolist() == kept
