"""1-shot RLVR for trl-reasoning (Wang et al., arXiv 2504.20571): see ``docs/plugins/one_shot.md``.

``record``: each example's training accuracy per epoch; ``ranking``: the historical-variance score and the pi list;
``sampler``: chosen examples replicated to fill the batch; ``plugin``: the hooks and ``trl-reason one-shot rank``.
"""

from trl_reasoning import lazy_exports

_EXPORTS = {
    "AccuracyRecord": "record",
    "ReplicatedSampler": "sampler",
    "historical_std": "ranking",
    "load_hist_acc_rows": "ranking",
    "rank_examples": "ranking",
}
__all__ = sorted(_EXPORTS)

# the submodules (and torch) load on first use, so `trl-reason --help` stays fast
__getattr__ = lazy_exports(__name__, _EXPORTS)
