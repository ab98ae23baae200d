"""InRa (inference-time realignment) for trl-reasoning: see ``trl_reason_inra.plugin`` and docs/plugins/inra.md."""

from .surgery import insert_adapter_layer, load_adapter, save_adapter, train_adapter_only
from .two_stream import InRaTwoStream, interpolate_logits

__all__ = ["InRaTwoStream", "insert_adapter_layer", "interpolate_logits", "load_adapter", "save_adapter",
           "train_adapter_only"]
