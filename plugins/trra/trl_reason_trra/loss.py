"""TrRa's loss on real models: the student's logits, the two teachers' logits, and the KL on chosen positions.

``distillation_kl(student, reference, aligned, input_ids, attention_mask, predict_mask, lam, temperature)``
returns the sum of per-token KLs and the number of tokens. ``predict_mask (B, L)`` marks the positions whose
*next* token is a response token (position t predicts token t+1), i.e. ``labels[:, 1:] != -100`` shifted left.

Memory: the student's logits are materialised only from the first predicting position on (``logits_to_keep``),
through the student's own ``forward`` (so DDP and PEFT wrappers see the call). The teachers run their backbone
without gradients and project hidden states to logits ``chunk_size`` positions at a time, so the fused teacher
is never held for the whole batch.
"""

from __future__ import annotations

import torch

from .fusion import realigned_kl


def _backbone(model):
    """The decoder stack of a causal LM (through DDP/DeepSpeed and PEFT wrappers)."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):  # PEFT
        model = model.get_base_model()
    return model.base_model, model.get_output_embeddings()


def teacher_hidden(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, object]:
    """Last hidden states ``(B, L, H)`` of a frozen teacher and its LM head."""
    backbone, head = _backbone(model)
    with torch.no_grad():
        out = backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return out.last_hidden_state, head  # (B, L, H)


def student_logits(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, keep: int) -> torch.Tensor:
    """The student's logits for the last ``keep`` positions, ``(B, keep, V)``, with gradients."""
    out = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=keep)
    return out.logits  # (B, keep, V)


def distillation_kl(student, reference, aligned, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    predict_mask: torch.Tensor, lam: float, temperature: float = 1.0,
                    chunk_size: int = 1024) -> tuple[torch.Tensor, int]:
    """Sum over ``predict_mask`` positions of KL(fused teacher || student), and how many positions there were."""
    predict_mask = predict_mask.bool()  # (B, L)
    n_tokens = int(predict_mask.sum().item())
    if n_tokens == 0:
        logits = student_logits(student, input_ids, attention_mask, 1)  # (B, 1, V)
        return logits.sum() * 0.0, 0  # a differentiable zero keeps every rank's backward in step
    length = input_ids.shape[1]
    first = int(predict_mask.any(dim=0).nonzero()[0].item())
    keep = length - first
    mask = predict_mask[:, first:]  # (B, keep)
    s_logits = student_logits(student, input_ids, attention_mask, keep)[mask]  # (N, V)
    r_hidden, r_head = teacher_hidden(reference, input_ids, attention_mask)  # (B, L, H)
    a_hidden, a_head = teacher_hidden(aligned, input_ids, attention_mask)  # (B, L, H)
    r_hidden = r_hidden[:, first:][mask]  # (N, H)
    a_hidden = a_hidden[:, first:][mask]  # (N, H)
    total = s_logits.new_zeros((), dtype=torch.float32)  # ()
    for start in range(0, n_tokens, chunk_size):
        end = min(start + chunk_size, n_tokens)
        with torch.no_grad():
            r_logits = r_head(r_hidden[start:end].to(r_head.weight.dtype))  # (n, V)
            a_logits = a_head(a_hidden[start:end].to(a_head.weight.dtype))  # (n, V)
        kl = realigned_kl(s_logits[start:end], r_logits, a_logits, lam, temperature)  # (n,)
        total = total + kl.sum()
    return total, n_tokens
