"""PPO with a learned critic and GAE for trl-reasoning (``trainer.algorithm: ppo``). See docs/plugins/ppo.md."""

_EXPORTS = {
    "ReasoningPPOConfig": "config",
    "ReasoningPPOTrainer": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: the submodules (and torch) load on first use; `trl-reason --help` stays fast
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
