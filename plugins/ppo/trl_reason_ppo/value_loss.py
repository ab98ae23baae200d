"""The critic's clipped value loss: pure tensor functions.

::

    loss, clip_fraction = clipped_value_loss(values, old_values, returns, mask, cliprange_value=0.5)

``0.5 * masked_mean(max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2))`` over the micro-batch's unmasked
tokens (PPO's value clipping as in the OpenAI baselines and verl's ``cliprange_value``): the prediction ``V`` may move
at most ``c`` from the value ``V_old`` recorded at generation time before the loss stops rewarding the move.

The single-pass critic update computes the same loss row by row, before TRL splits the generation batch into
micro-batches: ``micro_batch_row_weights`` gives each row the ``1 / tokens`` of the micro-batch it will land in, so
``sum(per_token * mask * weight)`` over a micro-batch's rows is its ``clipped_value_loss``::

    per_token, clipped = clipped_value_terms(values, old_values, returns, cliprange_value=0.5)   # (B, T), (B, T)
    weights = micro_batch_row_weights(mask, micro_batch, num_micro_batches)                     # (B,)
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scalar mean of ``x`` over unmasked entries (0 when every entry is masked)."""
    mask = mask.to(x.dtype)  # (B, T)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)  # ()


def clipped_value_terms(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                        cliprange_value: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(per_token_loss, clipped_is_larger)``, both (B, T): ``0.5 * max(unclipped, clipped)`` squared errors
    (``0.5 * unclipped`` with ``cliprange_value=None``) and where the clipped term is the larger one (float 0/1)."""
    values = values.to(torch.float32)  # (B, T)
    old_values = old_values.to(torch.float32)  # (B, T)
    returns = returns.to(torch.float32)  # (B, T)
    unclipped = (values - returns) ** 2  # (B, T)
    if cliprange_value is None:
        return 0.5 * unclipped, torch.zeros_like(unclipped)
    clipped_values = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value)  # (B, T)
    clipped = (clipped_values - returns) ** 2  # (B, T)
    return 0.5 * torch.maximum(unclipped, clipped), (clipped > unclipped).to(torch.float32).detach()  # (B, T) x2


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                       cliprange_value: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, clip_fraction)``, both scalars. ``values`` (B, T) carries the gradient; ``old_values``,
    ``returns`` and ``mask`` are (B, T) constants. ``cliprange_value=None`` turns clipping off (plain squared
    error). ``clip_fraction`` is the share of unmasked tokens where the clipped term is the larger one."""
    per_token, clipped = clipped_value_terms(values, old_values, returns, cliprange_value)  # (B, T), (B, T)
    return masked_mean(per_token, mask), masked_mean(clipped, mask)  # (), ()


def micro_batch_row_weights(mask: torch.Tensor, micro_batch: torch.Tensor, num_micro_batches: int) -> torch.Tensor:
    """(B,) float32: ``1 / max(unmasked tokens of the row's micro-batch, 1)``. ``mask``: (B, T); ``micro_batch``:
    (B,) long, the micro-batch (``0 .. num_micro_batches - 1``) each row will be trained in."""
    tokens = mask.to(torch.float32).sum(dim=1)  # (B,)
    per_micro_batch = torch.zeros(num_micro_batches, dtype=torch.float32, device=mask.device)  # (M,)
    per_micro_batch.index_add_(0, micro_batch.to(mask.device), tokens)  # (M,)
    return 1.0 / per_micro_batch.clamp(min=1.0)[micro_batch.to(mask.device)]  # (B,)


def micro_batch_of_rows(permutation: torch.Tensor, num_micro_batches: int) -> torch.Tensor:
    """(B,) long: the micro-batch of each row when the batch is reordered by ``permutation`` (B,) (row
    ``permutation[j]`` goes to position ``j``) and then cut into ``num_micro_batches`` equal contiguous parts, as
    TRL's ``shuffle_sequence_dict`` and ``split_tensor_dict`` do."""
    size = permutation.numel() // num_micro_batches
    micro_batch = torch.empty_like(permutation)  # (B,)
    micro_batch[permutation] = torch.arange(permutation.numel(), device=permutation.device) // size  # (B,)
    return micro_batch
