"""GAE, returns, token rewards, whitening and the clipped value loss against hand-computed tables."""

from __future__ import annotations

import pytest
import torch
from trl_reason_ppo.gae import gae, last_token_index, masked_moments, token_rewards, whiten
from trl_reason_ppo.value_loss import clipped_value_loss


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


@pytest.mark.parametrize(
    ("outcome", "mask", "kl", "kl_coef", "expected"),
    [
        # the outcome lands on the last unmasked token; padded tails and empty rows get nothing
        ([1.0, 0.5, 2.0], [[1, 1, 1], [1, 1, 0], [0, 0, 0]], None, 0.0,
         [[0, 0, 1.0], [0, 0.5, 0], [0, 0, 0]]),
        # a masked token inside the completion (tool output) does not move the last token
        ([1.0], [[1, 0, 1, 0]], None, 0.0, [[0, 0, 1.0, 0]]),
        # k1 penalty on every unmasked token: r_t = -coef * kl_t (+ outcome on the last one)
        ([1.0], [[1, 1, 0]], [[0.5, -1.0, 9.0]], 0.1, [[-0.05, 0.1 + 1.0, 0]]),
    ],
)
def test_token_rewards(outcome, mask, kl, kl_coef, expected):
    got = token_rewards(t(outcome), t(mask), None if kl is None else t(kl), kl_coef)
    torch.testing.assert_close(got, t(expected))


def test_last_token_index():
    assert last_token_index(t([[1, 1, 0], [1, 0, 1], [0, 0, 0], [1, 0, 0]])).tolist() == [1, 2, 0, 0]


# One row: rewards r, values V, mask m. Hand computation (gamma g, lambda l), backwards:
#   delta_t = r_t + g * V_{t+1} - V_t (V after the last token = 0), A_t = delta_t + g * l * A_{t+1}, R_t = A_t + V_t.
GAE_TABLE = [
    # gamma = lambda = 1: A_t = R - V_t, returns = R everywhere
    dict(r=[0, 0, 1], v=[0.2, 0.5, 0.9], m=[1, 1, 1], g=1.0, l=1.0, adv=[0.8, 0.5, 0.1], ret=[1, 1, 1]),
    # trailing padding is ignored and gets 0
    dict(r=[0, 1, 0], v=[0.2, 0.5, 7.0], m=[1, 1, 0], g=1.0, l=1.0, adv=[0.8, 0.5, 0], ret=[1, 1, 0]),
    # gamma = 0.9, lambda = 0.8:
    #   d2 = 1 - 0.9 = 0.1                 A2 = 0.1
    #   d1 = 0 + 0.9*0.9 - 0.5 = 0.31      A1 = 0.31 + 0.72*0.1 = 0.382
    #   d0 = 0 + 0.9*0.5 - 0.2 = 0.25      A0 = 0.25 + 0.72*0.382 = 0.52504
    dict(r=[0, 0, 1], v=[0.2, 0.5, 0.9], m=[1, 1, 1], g=0.9, l=0.8, adv=[0.52504, 0.382, 0.1],
         ret=[0.72504, 0.882, 1.0]),
    # lambda = 0: A_t is the one-step TD error
    dict(r=[0, 0, 1], v=[0.2, 0.5, 0.9], m=[1, 1, 1], g=0.9, l=0.0, adv=[0.25, 0.31, 0.1],
         ret=[0.45, 0.81, 1.0]),
    # a masked token in the middle is skipped: V and A bootstrap across it (gamma 0.5, lambda 1)
    #   t3: d = 1 - 0.4 = 0.6, A3 = 0.6; t2 masked; t1: d = 0 + 0.5*0.4 - 0.3 = -0.1, A1 = -0.1 + 0.5*0.6 = 0.2
    #   t0: d = 0 + 0.5*0.3 - 0.2 = -0.05, A0 = -0.05 + 0.5*0.2 = 0.05
    dict(r=[0, 0, 0, 1], v=[0.2, 0.3, 5.0, 0.4], m=[1, 1, 0, 1], g=0.5, l=1.0, adv=[0.05, 0.2, 0, 0.6],
         ret=[0.25, 0.5, 0, 1.0]),
    # per-token rewards (a KL penalty) accumulate with gamma = lambda = 1: A_t = sum_{k>=t} r_k - V_t
    dict(r=[-0.1, -0.2, 1.0], v=[0.0, 0.0, 0.0], m=[1, 1, 1], g=1.0, l=1.0, adv=[0.7, 0.8, 1.0],
         ret=[0.7, 0.8, 1.0]),
]


@pytest.mark.parametrize("case", GAE_TABLE)
def test_gae_table(case):
    adv, ret = gae(t([case["r"]]), t([case["v"]]), t([case["m"]]), case["g"], case["l"])
    torch.testing.assert_close(adv, t([case["adv"]]))
    torch.testing.assert_close(ret, t([case["ret"]]))


def test_gae_rows_are_independent():
    rows = GAE_TABLE[:2]
    adv, ret = gae(t([c["r"] for c in rows]), t([c["v"] for c in rows]), t([c["m"] for c in rows]), 1.0, 1.0)
    torch.testing.assert_close(adv, t([c["adv"] for c in rows]))
    torch.testing.assert_close(ret, t([c["ret"] for c in rows]))


def test_constant_value_gives_reward_minus_b_on_every_token():
    """gamma = lambda = 1, no whitening, V = b everywhere: A_t = R - b on every unmasked token, 0 on padding."""
    b = 0.3
    outcome = t([1.0, 0.0, 0.5])
    mask = t([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    values = torch.full((3, 4), b)
    adv, ret = gae(token_rewards(outcome, mask), values, mask, 1.0, 1.0)
    torch.testing.assert_close(adv, (outcome.unsqueeze(1) - b) * mask)
    torch.testing.assert_close(ret, outcome.unsqueeze(1) * mask)


def test_whiten_uses_masked_unbiased_moments():
    x = t([[1, 2, 99], [3, 4, 99]])
    mask = t([[1, 1, 0], [1, 1, 0]])
    moments = masked_moments(x, mask)
    assert moments.tolist() == [10.0, 30.0, 4.0]
    # mean 2.5, unbiased var = (1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3 = 5/3
    std = (5 / 3) ** 0.5
    torch.testing.assert_close(whiten(x, mask, moments, eps=0.0),
                               t([[-1.5 / std, -0.5 / std, 0], [0.5 / std, 1.5 / std, 0]]))


def test_whiten_from_summed_moments_equals_whole_batch():
    """Two ranks' moments summed (the all-reduce) give the same whitening as the whole batch on one rank."""
    torch.manual_seed(0)
    x, mask = torch.randn(4, 5), (torch.rand(4, 5) > 0.3).float()
    whole = whiten(x, mask, masked_moments(x, mask))
    summed = masked_moments(x[:2], mask[:2]) + masked_moments(x[2:], mask[2:])
    torch.testing.assert_close(torch.cat([whiten(x[:2], mask[:2], summed), whiten(x[2:], mask[2:], summed)]), whole)


@pytest.mark.parametrize(
    ("v", "old", "ret", "m", "clip", "loss", "clipfrac"),
    [
        # inside the clip range: plain 0.5 * squared error, averaged over unmasked tokens
        ([0.5, 0.2], [0.4, 0.1], [1.0, 0.0], [1, 1], 0.5, 0.5 * (0.25 + 0.04) / 2, 0.0),
        # v moved 1.0 from old (clip 0.5): clipped value 0.5, error 0.5^2 beats 0^2 -> the max takes it
        ([1.0], [0.0], [1.0], [1], 0.5, 0.5 * 0.25, 1.0),
        # v moved away from the return: unclipped error is larger and is kept
        ([-1.0], [0.0], [1.0], [1], 0.5, 0.5 * 4.0, 0.0),
        # padding does not count; clipping off gives the plain error
        ([1.0, 9.0], [0.0, 0.0], [1.0, 0.0], [1, 0], None, 0.0, 0.0),
    ],
)
def test_clipped_value_loss(v, old, ret, m, clip, loss, clipfrac):
    got_loss, got_frac = clipped_value_loss(t([v]), t([old]), t([ret]), t([m]), clip)
    assert got_loss.item() == pytest.approx(loss)
    assert got_frac.item() == pytest.approx(clipfrac)


def test_value_loss_gradient_reaches_values_only_where_unmasked():
    v = t([[0.5, 9.0]]).requires_grad_()
    loss, _ = clipped_value_loss(v, t([[0.5, 0.0]]), t([[1.0, 0.0]]), t([[1, 0]]), 0.5)
    loss.backward()
    torch.testing.assert_close(v.grad, t([[-0.5, 0.0]]))  # d/dv 0.5 (v - R)^2 = v - R = -0.5
