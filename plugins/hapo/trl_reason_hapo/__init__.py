"""HAPO for trl-reasoning: history-aware length reward (Huang, Zhang, Cardie; arXiv 2505.11225).

See ``docs/plugins/hapo.md``. The pure reward math is in ``length_reward``, the per-problem history (read from the
core's ``trainer.records``) in ``history``, the hooks in ``plugin``.
"""

from trl_reasoning import lazy_exports

_EXPORTS = {
    "history_lengths": "history",
    "history_stats": "history",
    "cosine_length_reward": "length_reward",
    "length_rewards": "length_reward",
    "linear_length_reward": "length_reward",
}
__all__ = sorted(_EXPORTS)

# the submodules (and torch) load on first use, so `trl-reason --help` stays fast
__getattr__ = lazy_exports(__name__, _EXPORTS)
