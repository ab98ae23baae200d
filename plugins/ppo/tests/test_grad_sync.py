"""How the critic's gradients are packed into all-reduce buckets (the all-reduce itself: test_ppo_two_processes)."""

import pytest
import torch
from trl_reason_ppo.grad_sync import buckets_of


@pytest.mark.parametrize("sizes, dtypes, limit, want", [
    ([3, 3, 3], None, 6, [[0, 1], [2]]),                 # fill up to the limit, then a new bucket
    ([10, 2, 2], None, 6, [[0], [1, 2]]),               # a tensor over the limit gets a bucket of its own
    ([2, 2, 2], ["f32", "bf16", "bf16"], 100, [[0], [1, 2]]),  # one dtype per bucket
    ([], None, 6, []),
])
def test_buckets_of(sizes, dtypes, limit, want):
    kinds = {"f32": torch.float32, "bf16": torch.bfloat16}
    tensors = [torch.zeros(n, dtype=kinds[d] if dtypes else torch.float32)
               for n, d in zip(sizes, dtypes or [None] * len(sizes))]
    assert buckets_of(tensors, limit) == want
