"""HAPO's length reward, as pure functions (the authors' ``utils.py``; docs/papers/hapo.md).

``h`` is the problem's history (the shortest correct length seen before this batch, or ``None`` while no answer
to it has been correct); ``L`` the response length in tokens. Cosine type (the default)::

    x = cos(min(L / h, 2) * pi / 2)          # +1 at L = 0, 0 at L = h, -1 from L = 2h on
    correct:   max(-clip, x)                  # clip = 0.7: every correct answer keeps a total above any wrong one
    incorrect: min(0, x)                      # a wrong answer is never rewarded for being short
    h empty:   0

With ``h = 1000``: correct +1, +0.924, +0.707, 0, -0.7, -0.7 and incorrect 0, 0, 0, 0, -0.707, -1 at
``L = 0, 250, 500, 1000, 1500, 2000``. The linear type (tolerance ``tau = 0.1``) is 1 - L/h below h for a correct
answer, 0 up to (1 + tau) h, then falls by (L - (1 + tau) h) / h to -clip (correct) or -1 (incorrect).

The total reward is ``correctness + w * length_reward`` with ``w`` in [0, 1]; the weight is applied by the trainer
(the reward's ``weight``), not here.
"""

from __future__ import annotations

import math

import torch

KINDS = ("cosine", "linear")


def cosine_length_reward(length: float, history: float | None, correct: bool, clip: float = 0.7) -> float:
    """HAPO's cosine length reward of one response (see the module docstring)."""
    if history is None:
        return 0.0
    x = math.cos(min(length / max(history, 1.0), 2.0) * math.pi / 2)
    return max(-clip, x) if correct else min(0.0, x)


def linear_length_reward(length: float, history: float | None, correct: bool, clip: float = 0.7,
                         tolerance: float = 0.1) -> float:
    """HAPO's linear length reward of one response (``type_lr="linear"``, tolerance 0.1 in the authors' code)."""
    if history is None:
        return 0.0
    h = max(history, 1.0)
    overshoot = -(length - (1.0 + tolerance) * h) / h  # negative beyond the tolerance band
    if correct:
        if length < h:
            return 1.0 - length / h
        if length < (1.0 + tolerance) * h:
            return 0.0
        return max(-clip, overshoot)
    if length < (1.0 + tolerance) * h:
        return 0.0
    return max(-1.0, overshoot)


def length_rewards(lengths: torch.Tensor, history: torch.Tensor, correct: torch.Tensor, kind: str = "cosine",
                   clip: float = 0.7, tolerance: float = 0.1) -> torch.Tensor:
    """The length reward of a whole batch: ``lengths (B,)``, ``history (B,)`` with NaN where a problem has no
    history yet, ``correct (B,)`` bool. Returns ``(B,)`` float32, equal to the scalar functions row by row."""
    if kind not in KINDS:
        raise ValueError(f"unknown HAPO length reward type {kind!r}; use one of {', '.join(KINDS)}")
    lengths = lengths.double()  # (B,)
    known = ~torch.isnan(history)  # (B,) bool
    h = torch.nan_to_num(history.double(), nan=1.0).clamp(min=1.0)  # (B,)
    ratio = lengths / h  # (B,)
    if kind == "cosine":
        x = torch.cos(ratio.clamp(max=2.0) * math.pi / 2)  # (B,)
        reward = torch.where(correct, x.clamp(min=-clip), x.clamp(max=0.0))  # (B,)
    else:
        band = 1.0 + tolerance
        overshoot = -(ratio - band)  # (B,) = -(L - band*h) / h
        correct_reward = torch.where(ratio < 1.0, 1.0 - ratio,
                                     torch.where(ratio < band, torch.zeros_like(ratio), overshoot.clamp(min=-clip)))
        wrong_reward = torch.where(ratio < band, torch.zeros_like(ratio), overshoot.clamp(min=-1.0))  # (B,)
        reward = torch.where(correct, correct_reward, wrong_reward)  # (B,)
    return torch.where(known, reward, torch.zeros_like(reward)).float()  # (B,)
