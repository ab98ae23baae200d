"""Averaging the critic's gradients across processes, in a few large all-reduces that may overlap other work.

The critic is not wrapped in DDP (it lives outside the policy), so its gradients are averaged by hand before the
optimizer step. One all-reduce per parameter (about 270 for a 30-layer model) pays the collective's latency each
time; ``start_mean`` packs the gradients into flat buckets (one per dtype and device, at most ``bucket_elements``
each) and starts their all-reduces without waiting; ``finish_mean`` waits, divides by the world size and copies the
averages back. The single-pass critic update starts the average as soon as its backward is done, so the transfer
runs under the policy's forward and backward::

    pending = start_mean(params)     # async all-reduces, one per bucket
    ...                              # the policy's loss, forward and backward
    finish_mean(pending)             # p.grad is now the mean over processes
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

BUCKET_ELEMENTS = 1 << 25  # 32M elements: 128 MB of fp32 per bucket


@dataclass
class PendingMean:
    """All-reduces in flight: each with its flat buffer and the gradients it holds, in order."""

    works: list
    buckets: list[tuple[torch.Tensor, list[torch.Tensor]]]
    world_size: int


def buckets_of(tensors: list[torch.Tensor], bucket_elements: int = BUCKET_ELEMENTS) -> list[list[int]]:
    """Indices of ``tensors`` grouped into buckets: consecutive tensors of one dtype and device, each bucket at
    most ``bucket_elements`` elements unless a single tensor is larger (it then gets a bucket of its own)."""
    buckets: list[list[int]] = []
    size, key = 0, None
    for index, tensor in enumerate(tensors):
        this_key = (tensor.dtype, tensor.device)
        if not buckets or this_key != key or size + tensor.numel() > bucket_elements:
            buckets.append([])
            size, key = 0, this_key
        buckets[-1].append(index)
        size += tensor.numel()
    return buckets


def start_mean(params: list[torch.nn.Parameter], bucket_elements: int = BUCKET_ELEMENTS) -> PendingMean:
    """Start averaging ``p.grad`` over the default process group (a parameter without a gradient counts as
    zeros, as DDP treats it). Returns what ``finish_mean`` completes."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    grads = [p.grad for p in params]
    works, buckets = [], []
    for indices in buckets_of(grads, bucket_elements):
        members = [grads[i] for i in indices]
        flat = torch.cat([g.reshape(-1) for g in members])  # (sum of numel,)
        works.append(dist.all_reduce(flat, op=dist.ReduceOp.SUM, async_op=True))
        buckets.append((flat, members))
    return PendingMean(works, buckets, dist.get_world_size())


def finish_mean(pending: PendingMean) -> None:
    """Wait for ``pending``'s all-reduces and write the means into the gradients."""
    for work, (flat, members) in zip(pending.works, pending.buckets):
        work.wait()
        flat.div_(pending.world_size)
        offset = 0
        for grad in members:
            grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
            offset += grad.numel()
