"""1-shot RLVR for trl-reasoning (Wang et al., arXiv 2504.20571): see ``docs/plugins/one_shot.md``.

``record``: each example's training accuracy per epoch; ``ranking``: the historical-variance score and the pi list;
``sampler``: chosen examples replicated to fill the batch; ``plugin``: the hooks and ``trl-reason one-shot rank``.
"""

_EXPORTS = {
    "AccuracyRecord": "record",
    "ReplicatedSampler": "sampler",
    "historical_std": "ranking",
    "load_hist_acc_rows": "ranking",
    "rank_examples": "ranking",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):  # PEP 562: the submodules (and torch) load on first use; `trl-reason --help` stays fast
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
