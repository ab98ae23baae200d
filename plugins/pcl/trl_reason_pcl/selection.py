"""PCL's selection math, dependency-free apart from torch (table-tested in ``plugins/pcl/tests``).

::

    pool = draw_pool(sampler_ids=[3, 9], eligible=range(100), size=8, seed=42, step=7)
    picked = nearest_to_target(torch.tensor([.9, .5, .1, .45]), target=0.5, count=2)   # -> [1, 3]
"""

from __future__ import annotations

import random
from typing import Iterable

import torch


def nearest_to_target(values: torch.Tensor, target: float, count: int) -> list[int]:
    """Indices of the ``count`` values closest to ``target`` (smallest ``|v - target|``), ties kept in pool order.

    The paper's greedy ``argmin_{S, |S|=m} sum |V(x) - tau|`` over the pool is exactly this (the sum is separable).
    """
    distance = (values.float() - target).abs()  # (N,)
    order = torch.sort(distance, stable=True).indices  # (N,)
    return order[:count].tolist()


def draw_pool(sampler_ids: Iterable[int], eligible: Iterable[int], size: int, seed: int, step: int,
              round_index: int = 0) -> list[int]:
    """The candidate pool of one selection: ``size`` distinct dataset indices.

    The sampler's own draws come first (those still eligible), then indices drawn without replacement from the
    remaining eligible rows by a generator keyed by ``(seed, step, round_index)``, the same on every process and
    after a resume. With pool multiplier 1 PCL therefore sees exactly the sampler's prompts. When fewer than
    ``size`` rows are eligible the pool is all of them (and the selector repeats prompts if it must).
    """
    eligible = list(dict.fromkeys(eligible))
    allowed = set(eligible)
    pool = [i for i in dict.fromkeys(sampler_ids) if i in allowed][:size]
    taken = set(pool)
    rest = [i for i in eligible if i not in taken]
    rng = random.Random(f"pcl:{seed}:{step}:{round_index}")  # str seeds hash with SHA-512: stable across processes
    pool += rng.sample(rest, min(size - len(pool), len(rest)))
    return pool


def fill_to(indices: list[int], count: int) -> list[int]:
    """Repeat ``indices`` cyclically to ``count`` entries (a pool smaller than the batch)."""
    if not indices:
        raise ValueError("no candidate prompts to select from")
    return [indices[i % len(indices)] for i in range(count)]


def learning_signal(batch) -> torch.Tensor:
    """(B,) float: what decides whether a group "has a learning signal": the ``correct`` flags when a reward decides
    correctness, else the weighted total reward (a run without a correctness reward has nothing better)."""
    if batch.correct is not None:
        return batch.correct.float()  # (B,)
    return batch.total_reward  # (B,)


def explained_variance(predicted: torch.Tensor, observed: torch.Tensor) -> float:
    """``1 - Var(observed - predicted) / Var(observed)``; NaN when the observations do not vary."""
    observed = observed.float()  # (N,)
    var = observed.var(unbiased=False)
    if observed.numel() < 2 or var <= 1e-12:
        return float("nan")
    return float(1.0 - (observed - predicted.float()).var(unbiased=False) / var)


def effective_ratio(rewards: torch.Tensor, num_generations: int, eps: float = 1e-6) -> float:
    """Share of completions whose group-relative advantage ``r - mean_group(r)`` is non-zero (the paper's
    "effective ratio"). With 0/1 rewards it equals the share of groups with mixed outcomes. PCL passes the
    ``correct`` flags (``learning_signal``), never a shaped total: under HAPO's length reward an all-right group's
    totals differ by length, yet the group teaches nothing about correctness."""
    grouped = rewards.float().view(-1, num_generations)  # (num_groups, G)
    advantage = grouped - grouped.mean(dim=1, keepdim=True)  # (num_groups, G)
    return float((advantage.abs() > eps).float().mean())
