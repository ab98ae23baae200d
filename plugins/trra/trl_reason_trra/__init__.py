"""TrRa (training-time realignment) for trl-reasoning: see ``trl_reason_trra.plugin`` and docs/plugins/trra.md."""

from trl_reasoning import lazy_exports

_EXPORTS = {
    "forward_kl": "fusion",
    "fuse_logits": "fusion",
    "realigned_kl": "fusion",
}
__all__ = sorted(_EXPORTS)

# the submodules (and torch) load on first use, so `trl-reason --help` stays fast
__getattr__ = lazy_exports(__name__, _EXPORTS)
