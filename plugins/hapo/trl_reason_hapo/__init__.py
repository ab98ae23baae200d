"""HAPO for trl-reasoning: history-aware length reward (Huang, Zhang, Cardie; arXiv 2505.11225).

See ``docs/plugins/hapo.md``. The pure reward math is in ``length_reward``, the per-problem history in ``history``,
the hooks in ``plugin``.
"""

_EXPORTS = {
    "ShortestCorrectHistory": "history",
    "cosine_length_reward": "length_reward",
    "length_rewards": "length_reward",
    "linear_length_reward": "length_reward",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: the submodules (and torch) load on first use; `trl-reason --help` stays fast
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
