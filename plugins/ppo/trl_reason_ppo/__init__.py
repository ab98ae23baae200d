"""PPO with a learned critic and GAE for trl-reasoning (``trainer.algorithm: ppo``). See docs/plugins/ppo.md."""

from trl_reasoning import lazy_exports

_EXPORTS = {
    "ReasoningPPOConfig": "config",
    "ReasoningPPOTrainer": "trainer",
}
__all__ = sorted(_EXPORTS)

# the submodules (and torch) load on first use, so `trl-reason --help` stays fast
__getattr__ = lazy_exports(__name__, _EXPORTS)
