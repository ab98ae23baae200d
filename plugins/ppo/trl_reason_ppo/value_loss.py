"""The critic's clipped value loss: a pure tensor function.

::

    loss, clip_fraction = clipped_value_loss(values, old_values, returns, mask, cliprange_value=0.5)

``0.5 * masked_mean(max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2))`` over the micro-batch's unmasked
tokens (PPO's value clipping as in the OpenAI baselines and verl's ``cliprange_value``): the prediction ``V`` may move
at most ``c`` from the value ``V_old`` recorded at generation time before the loss stops rewarding the move.
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Scalar mean of ``x`` over unmasked entries (0 when every entry is masked)."""
    mask = mask.to(x.dtype)  # (B, T)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)  # ()


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
                       cliprange_value: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, clip_fraction)``, both scalars. ``values`` (B, T) carries the gradient; ``old_values``,
    ``returns`` and ``mask`` are (B, T) constants. ``cliprange_value=None`` turns clipping off (plain squared
    error). ``clip_fraction`` is the share of unmasked tokens where the clipped term is the larger one."""
    values = values.to(torch.float32)  # (B, T)
    old_values = old_values.to(torch.float32)  # (B, T)
    returns = returns.to(torch.float32)  # (B, T)
    unclipped = (values - returns) ** 2  # (B, T)
    if cliprange_value is None:
        return 0.5 * masked_mean(unclipped, mask), torch.zeros((), device=values.device)
    clipped_values = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value)  # (B, T)
    clipped = (clipped_values - returns) ** 2  # (B, T)
    loss = 0.5 * masked_mean(torch.maximum(unclipped, clipped), mask)  # ()
    clip_fraction = masked_mean((clipped > unclipped).to(torch.float32), mask)  # ()
    return loss, clip_fraction.detach()
