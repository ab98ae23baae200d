"""TrRa (training-time realignment) for trl-reasoning: see ``trl_reason_trra.plugin`` and docs/plugins/trra.md."""

from .fusion import forward_kl, fuse_logits, realigned_kl

__all__ = ["forward_kl", "fuse_logits", "realigned_kl"]
