"""1-shot RLVR for trl-reasoning (Wang et al., arXiv 2504.20571): see ``docs/plugins/one_shot.md``.

``record``: each example's training accuracy per epoch; ``ranking``: the historical-variance score and the pi list;
``sampler``: chosen examples replicated to fill the batch; ``plugin``: the hooks and ``trl-reason one-shot rank``.
"""

from .ranking import historical_std, load_hist_acc_rows, rank_examples
from .record import AccuracyRecord
from .sampler import ReplicatedSampler

__all__ = ["AccuracyRecord", "ReplicatedSampler", "historical_std", "load_hist_acc_rows", "rank_examples"]
