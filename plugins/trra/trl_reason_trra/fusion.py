"""The math of TrRa: lambda-fused teacher logits and the per-token forward KL to the student.

Pure functions on tensors (no model, no trainer), tested table-driven in ``plugins/trra/tests/test_fusion.py``.

Paper (Zhu et al., arXiv 2506.12704, Eq. 5; the authors' ``compute_preference_loss_1``)::

    z_teacher = lambda * z_aligned + (1 - lambda) * z_reference          # raw logits, per position
    loss      = KL( softmax(z_teacher / T) || softmax(z_student / T) ) * T^2

lambda = 1 is the aligned model, 0 the reference, > 1 extrapolates past the aligned model, < 0 anti-aligns.
Deviation from the authors' code (documented in docs/plugins/trra.md): their softmax runs over ``dim=1`` of
``[B, L, V]`` logits, i.e. across sequence positions, includes prompt tokens and uses batch element 0 only; here
each position's distribution is over the vocabulary and only response tokens count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fuse_logits(aligned: torch.Tensor, reference: torch.Tensor, lam: float) -> torch.Tensor:
    """``lam * aligned + (1 - lam) * reference`` (any matching shapes, e.g. ``(N, V)``)."""
    if aligned.shape != reference.shape:
        raise ValueError(f"aligned logits {tuple(aligned.shape)} and reference logits {tuple(reference.shape)} "
                         "differ: the two models must share a tokenizer and vocabulary")
    return lam * aligned + (1.0 - lam) * reference  # same shape as the inputs


def forward_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Per-position ``KL(softmax(teacher/T) || softmax(student/T)) * T^2`` over the last (vocabulary) axis.

    ``teacher_logits`` and ``student_logits`` are ``(..., V)``; returns ``(...)`` in float32. Gradients flow to the
    student only (the teacher is detached).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    teacher_logp = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)  # (..., V)
    student_logp = F.log_softmax(student_logits.float() / temperature, dim=-1)  # (..., V)
    kl = (teacher_logp.exp() * (teacher_logp - student_logp)).sum(dim=-1)  # (...)
    return kl * temperature ** 2  # (...)


def realigned_kl(student_logits: torch.Tensor, reference_logits: torch.Tensor, aligned_logits: torch.Tensor,
                 lam: float, temperature: float = 1.0) -> torch.Tensor:
    """Per-position KL from the lambda-fused teacher to the student: ``(..., V)`` x3 -> ``(...)``."""
    teacher = fuse_logits(aligned_logits, reference_logits, lam)  # (..., V)
    return forward_kl(teacher, student_logits, temperature)  # (...)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values (B, T)`` where ``mask (B, T)`` is true; 0 (still differentiable) when nothing is."""
    mask = mask.to(values.dtype)  # (B, T)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)  # ()
