"""InRa (inference-time realignment) for trl-reasoning: see ``trl_reason_inra.plugin`` and docs/plugins/inra.md."""

_EXPORTS = {
    "InRaTwoStream": "two_stream",
    "insert_adapter_layer": "surgery",
    "interpolate_logits": "two_stream",
    "load_adapter": "surgery",
    "save_adapter": "surgery",
    "train_adapter_only": "surgery",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: the submodules (and torch) load on first use; `trl-reason --help` stays fast
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
