"""TrRa (training-time realignment) for trl-reasoning: see ``trl_reason_trra.plugin`` and docs/plugins/trra.md."""

_EXPORTS = {
    "forward_kl": "fusion",
    "fuse_logits": "fusion",
    "realigned_kl": "fusion",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: the submodules (and torch) load on first use; `trl-reason --help` stays fast
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
