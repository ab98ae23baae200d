"""InRa (inference-time realignment) for trl-reasoning: see ``trl_reason_inra.plugin`` and docs/plugins/inra.md."""

from trl_reasoning import lazy_exports

_EXPORTS = {
    "InRaTwoStream": "two_stream",
    "insert_adapter_layer": "surgery",
    "interpolate_logits": "two_stream",
    "load_adapter": "surgery",
    "save_adapter": "surgery",
    "train_adapter_only": "surgery",
}
__all__ = sorted(_EXPORTS)

# the submodules (and torch) load on first use, so `trl-reason --help` stays fast
__getattr__ = lazy_exports(__name__, _EXPORTS)
