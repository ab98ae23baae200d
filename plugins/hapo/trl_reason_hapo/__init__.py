"""HAPO for trl-reasoning: history-aware length reward (Huang, Zhang, Cardie; arXiv 2505.11225).

See ``docs/plugins/hapo.md``. The pure reward math is in ``length_reward``, the per-problem history in ``history``,
the hooks in ``plugin``.
"""

from .history import ShortestCorrectHistory
from .length_reward import cosine_length_reward, length_rewards, linear_length_reward

__all__ = ["ShortestCorrectHistory", "cosine_length_reward", "length_rewards", "linear_length_reward"]
