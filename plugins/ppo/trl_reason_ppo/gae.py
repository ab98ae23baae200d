"""Token rewards, generalized advantage estimation, returns and masked whitening: pure tensor functions.

Shapes: ``B`` completions, ``T`` completion tokens (right-padded). ``mask`` is 1.0 on tokens the policy produced and
is trained on, 0.0 on padding (and on tool output, when a rollout has any). ``values[:, t]`` is the critic's V(s_t),
the value of the state *before* completion token ``t`` (prompt plus tokens ``< t``), aligned with the policy's
log-probs of token ``t``::

    rewards = token_rewards(outcome, mask)                                   # (B, T): R on the last token
    advantages, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)     # (B, T), (B, T)
    advantages = whiten(advantages, mask, masked_moments(advantages, mask))  # (B, T)

With ``gamma = lam = 1`` and no per-token reward, ``A_t = R - V(s_t)`` and ``returns = R`` on every token; with
``lam = 0``, ``A_t`` is the one-step TD error ``r_t + gamma V(s_{t+1}) - V(s_t)``.

The recursion skips masked tokens: a masked token neither updates the running advantage nor the bootstrap value,
so advantages flow across tool output inside a completion (the same rule verl uses for multi-turn rollouts), and
trailing padding contributes nothing. Advantages and returns are 0 on masked tokens.
"""

from __future__ import annotations

import torch


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """(B,) index of the last unmasked token of each row (0 for a row with no unmasked token)."""
    positions = torch.arange(mask.size(1), device=mask.device)  # (T,)
    return (positions.unsqueeze(0) * (mask > 0)).argmax(dim=1)  # (B,)


def token_rewards(outcome: torch.Tensor, mask: torch.Tensor, kl: torch.Tensor | None = None,
                  kl_coef: float = 0.0) -> torch.Tensor:
    """(B, T) per-token rewards: the outcome (verifiable) reward on each row's last unmasked token, minus
    ``kl_coef * kl`` on every unmasked token when a per-token KL estimate is given (k1: ``logp - ref_logp``).

    ``outcome``: (B,) float; ``mask``: (B, T); ``kl``: (B, T) or ``None``. Rows with no unmasked token get none.
    """
    mask = mask.to(torch.float32)  # (B, T)
    rewards = torch.zeros_like(mask)  # (B, T)
    if kl is not None and kl_coef != 0.0:
        rewards = rewards - kl_coef * kl.to(torch.float32) * mask  # (B, T)
    has_tokens = mask.sum(dim=1) > 0  # (B,)
    rows = torch.arange(mask.size(0), device=mask.device)[has_tokens]  # (B',)
    last = last_token_index(mask)[has_tokens]  # (B',)
    rewards[rows, last] += outcome.to(rewards)[has_tokens]  # (B',)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016) over completion tokens, mask-aware.

    ``rewards``, ``values``, ``mask``: (B, T). Returns ``(advantages, returns)``, both (B, T), with
    ``returns = advantages + values`` on unmasked tokens and 0 elsewhere. The episode ends after the last token
    (the value after it is 0).
    """
    rewards = rewards.to(torch.float32)  # (B, T)
    values = values.to(torch.float32)  # (B, T)
    mask = mask.to(torch.float32)  # (B, T)
    batch, length = rewards.shape
    next_value = torch.zeros(batch, dtype=torch.float32, device=rewards.device)  # (B,) V(s_{t+1})
    running = torch.zeros(batch, dtype=torch.float32, device=rewards.device)  # (B,) A_{t+1}
    advantages = torch.zeros_like(rewards)  # (B, T)
    for t in reversed(range(length)):
        keep = mask[:, t]  # (B,)
        delta = rewards[:, t] + gamma * next_value - values[:, t]  # (B,) TD error
        candidate = delta + gamma * lam * running  # (B,)
        running = keep * candidate + (1.0 - keep) * running  # (B,) unchanged across masked tokens
        next_value = keep * values[:, t] + (1.0 - keep) * next_value  # (B,)
        advantages[:, t] = running  # (B,)
    advantages = advantages * mask  # (B, T)
    returns = (advantages + values) * mask  # (B, T)
    return advantages, returns


def masked_moments(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(3,) float64 ``[sum, sum of squares, count]`` of ``x`` over unmasked entries. Sum these over processes
    (all-reduce) to whiten over the global batch."""
    mask = mask.to(torch.float64)  # (B, T)
    x = x.to(torch.float64) * mask  # (B, T)
    return torch.stack([x.sum(), (x * x).sum(), mask.sum()])  # (3,)


def whiten(x: torch.Tensor, mask: torch.Tensor, moments: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(B, T) ``(x - mean) / sqrt(var + eps)`` on unmasked entries (0 elsewhere), with the mean and the unbiased
    (Bessel-corrected) variance taken from ``moments`` (see ``masked_moments``). With fewer than two entries the
    values are only centred."""
    total, total_sq, count = (float(v) for v in moments)
    mean = total / count if count > 0 else 0.0
    centred = (x.to(torch.float32) - mean) * mask.to(torch.float32)  # (B, T)
    if count < 2:
        return centred
    variance = max(total_sq - count * mean * mean, 0.0) / (count - 1)
    return centred / (variance + eps) ** 0.5  # (B, T)
