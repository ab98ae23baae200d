"""The training stream of 1-shot RLVR: the chosen examples, each copied ``replicate`` times, every copy its own group.

The authors write a parquet with the chosen rows repeated ``--repeat_time 128`` times (``data_selection.py``;
verl's loader drops an incomplete last batch, so one example must fill a batch of 128) and give every row its own
group id (``uid = uuid4()`` per row in ``ray_trainer.fit``): one step is 128 groups of 8 rollouts of the same
problem, each group normalised on its own. Here the dataset keeps one row per example and the sampler repeats the
indices instead: it runs TRL's ``RepeatSampler`` over ``len(rows) * replicate`` virtual rows and maps each to its
example, so the stream keeps ``RepeatSampler``'s structure (each virtual row ``num_generations`` times in a row, so
each copy is its own group) and its shuffling.
"""

from __future__ import annotations

from torch.utils.data import Sampler


class ReplicatedSampler(Sampler):
    def __init__(self, rows: list[int], replicate: int, *, mini_repeat_count: int, batch_size: int = 1,
                 repeat_count: int = 1, shuffle: bool = True, seed: int | None = None):
        from trl.trainer.utils import RepeatSampler

        if not rows:
            raise ValueError("one_shot: no training example was chosen")
        if replicate < 1:
            raise ValueError(f"one_shot: replicate must be >= 1, got {replicate}")
        self.rows = list(rows)
        self.replicate = replicate
        self.virtual = list(range(len(self.rows) * replicate))  # copy c of example k is virtual index c * K + k
        self.inner = RepeatSampler(self.virtual, mini_repeat_count=mini_repeat_count, batch_size=batch_size,
                                   repeat_count=repeat_count, shuffle=shuffle, seed=seed)

    def __iter__(self):
        for virtual in self.inner:
            yield self.rows[virtual % len(self.rows)]

    def __len__(self) -> int:
        return len(self.inner)
