"""``EpochSeededRepeatSampler``: TRL's ``RepeatSampler`` whose shuffle depends only on (seed, epoch).

TRL's sampler seeds one generator when it is built and draws a fresh permutation from it every epoch, so epoch
``e``'s order depends on how many epochs this *process* has iterated. A run resumed in epoch 2 starts a new
process whose first permutation is epoch 0's, and the data order differs from the uninterrupted run's.
transformers calls ``set_epoch`` on the train sampler at the start of every epoch (also on resume); this sampler
reseeds its generator from (seed, epoch) there, so each epoch's order is the same whichever process runs it.
Epoch 0 draws exactly TRL's order. (``seed + epoch`` would not do: torch's small permutations repeat for adjacent
seeds, e.g. ``randperm(4)`` is the same for seeds 7 and 8.)
"""

from __future__ import annotations

from trl.trainer.utils import RepeatSampler


_GOLDEN = 0x9E3779B97F4A7C15  # an odd 64-bit constant: spreads consecutive epochs far apart in seed space


def epoch_seed(seed: int, epoch: int) -> int:
    """The generator seed of ``epoch``: ``seed`` itself for epoch 0, far from it for the others."""
    return (seed + epoch * _GOLDEN) % 2**63


class EpochSeededRepeatSampler(RepeatSampler):
    """A ``RepeatSampler`` (same arguments) whose epoch ``e`` permutation is drawn from a generator seeded with
    ``epoch_seed(seed, e)``. Without a seed it behaves as TRL's does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch = 0

    @classmethod
    def like(cls, sampler: RepeatSampler) -> "EpochSeededRepeatSampler":
        """The same sampling as TRL's ``sampler`` (its data, repeats, batch size, shuffle and seed)."""
        return cls(sampler.data_source, mini_repeat_count=sampler.mini_repeat_count, batch_size=sampler.batch_size,
                   repeat_count=sampler.repeat_count, shuffle=sampler.shuffle, seed=sampler.seed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        if self.shuffle and self.seed is not None:
            self.generator.manual_seed(epoch_seed(self.seed, self.epoch))
        return super().__iter__()
