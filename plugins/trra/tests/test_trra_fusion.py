"""TrRa's pure math on hand-made tensors: lambda fusion and the per-token forward KL."""

from __future__ import annotations

import math

import pytest
import torch

from trl_reason_trra.fusion import forward_kl, fuse_logits, masked_mean, realigned_kl

A = torch.tensor([[2.0, 0.0, -1.0]])  # aligned logits (1, 3)
R = torch.tensor([[0.0, 1.0, 1.0]])  # reference logits (1, 3)


@pytest.mark.parametrize("lam, expected", [
    (0.0, [[0.0, 1.0, 1.0]]),      # the reference
    (1.0, [[2.0, 0.0, -1.0]]),     # the aligned model
    (0.5, [[1.0, 0.5, 0.0]]),      # halfway
    (2.0, [[4.0, -1.0, -3.0]]),    # extrapolation: 2a - r
    (-1.0, [[-2.0, 2.0, 3.0]]),    # anti-alignment: 2r - a
])
def test_fuse_logits(lam, expected):
    assert torch.allclose(fuse_logits(A, R, lam), torch.tensor(expected))


def test_fuse_logits_rejects_different_vocabularies():
    with pytest.raises(ValueError, match="share a tokenizer"):
        fuse_logits(torch.zeros(1, 3), torch.zeros(1, 4), 2.0)


# KL(p || q) with p = softmax(teacher / T), q = softmax(student / T), times T^2, worked out by hand.
KL_TABLE = [
    # teacher logits, student logits, temperature, expected KL
    ([0.0, 0.0], [0.0, 0.0], 1.0, 0.0),
    ([3.0, -1.0, 0.5], [3.0, -1.0, 0.5], 1.0, 0.0),
    ([5.0, 5.0], [0.0, 0.0], 1.0, 0.0),  # a constant shift is the same distribution
    # p = [.5, .5], q = [.75, .25]: .5 ln(.5/.75) + .5 ln(.5/.25)
    ([0.0, 0.0], [math.log(3.0), 0.0], 1.0, 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0)),
    # p = [.75, .25], q = [.5, .5]: .75 ln 1.5 + .25 ln .5
    ([math.log(3.0), 0.0], [0.0, 0.0], 1.0, 0.75 * math.log(1.5) + 0.25 * math.log(0.5)),
    # temperature 2 halves the logits: p = [.75, .25] from [2 ln 3, 0], q uniform; times T^2 = 4
    ([2 * math.log(3.0), 0.0], [0.0, 0.0], 2.0, 4 * (0.75 * math.log(1.5) + 0.25 * math.log(0.5))),
]


@pytest.mark.parametrize("teacher, student, temperature, expected", KL_TABLE)
def test_forward_kl_by_hand(teacher, student, temperature, expected):
    kl = forward_kl(torch.tensor([teacher]), torch.tensor([student]), temperature)  # (1,)
    assert kl.shape == (1,)
    assert kl.item() == pytest.approx(expected, abs=1e-6)


def test_forward_kl_is_per_position_and_direction_matters():
    teacher = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])  # (1, 2, 2)
    student = torch.tensor([[[math.log(3.0), 0.0], [0.0, 0.0]]])  # (1, 2, 2)
    kl = forward_kl(teacher, student)  # (1, 2)
    assert kl.shape == (1, 2)
    assert kl[0, 0].item() == pytest.approx(KL_TABLE[3][3], abs=1e-6)
    assert kl[0, 1].item() == pytest.approx(KL_TABLE[4][3], abs=1e-6)
    assert kl[0, 0].item() != pytest.approx(kl[0, 1].item())  # KL(p||q) != KL(q||p)


def test_gradient_reaches_the_student_only():
    teacher = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)
    student = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    forward_kl(teacher, student).sum().backward()
    assert teacher.grad is None
    # d KL / d student = softmax(student) - softmax(teacher)
    assert torch.allclose(student.grad, torch.softmax(student, -1) - torch.softmax(teacher, -1), atol=1e-6)


def test_realigned_kl_is_zero_when_the_student_is_the_fused_teacher():
    student = fuse_logits(A, R, 2.0)
    assert realigned_kl(student, R, A, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert realigned_kl(R, R, A, 0.0).item() == pytest.approx(0.0, abs=1e-6)  # lambda 0: the reference itself
    assert realigned_kl(R, R, A, 2.0).item() > 0


@pytest.mark.parametrize("values, mask, expected", [
    ([[1.0, 2.0, 3.0]], [[1, 1, 1]], 2.0),
    ([[1.0, 2.0, 3.0]], [[0, 1, 1]], 2.5),
    ([[1.0, 2.0], [3.0, 5.0]], [[1, 0], [0, 1]], 3.0),
    ([[1.0, 2.0]], [[0, 0]], 0.0),
])
def test_masked_mean(values, mask, expected):
    assert masked_mean(torch.tensor(values), torch.tensor(mask)).item() == pytest.approx(expected)


def test_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        forward_kl(A, R, 0.0)
