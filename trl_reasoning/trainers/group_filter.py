"""The core's group filter (``trainer.group_filter: [lo, hi]``), a built-in user of the ``filter_groups`` hook.

A group keeps its advantages when its pass rate, computed from the ``correct`` flag (never from a shaped reward,
so HAPO-style shaping cannot fool it), lies in ``[lo, hi]``: ``[0.01, 0.99]`` drops groups with no reward variance,
QuestA uses ``[0.05, 0.95]``. With ``trainer.group_filter_max_rounds > 0`` the trainer regenerates for fresh prompts
until enough groups pass (dynamic sampling).
"""

from __future__ import annotations

import torch

from trl_reasoning.hookspecs import hookimpl

GROUP_FILTER_PLUGIN = "core:group_filter"  # the name it is registered under (reserved: recipes cannot use it)


def pass_rate_in_band(pass_rates: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """(num_groups,) bool: which pass rates lie in ``[lo, hi]``."""
    return (pass_rates >= lo) & (pass_rates <= hi)  # (num_groups,)


class PassRateBand:
    def __init__(self, lo: float, hi: float):
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"trainer.group_filter must be [lo, hi] with 0 <= lo <= hi <= 1, got [{lo}, {hi}]")
        self.lo, self.hi = lo, hi

    @hookimpl
    def filter_groups(self, batch):
        return pass_rate_in_band(batch.group_pass_rate(), self.lo, self.hi)  # (num_groups,)
