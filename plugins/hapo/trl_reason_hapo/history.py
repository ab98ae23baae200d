"""HAPO's history: for every training problem, the length of its correct answers so far, read from the core's
per-prompt record (``trainer.records``) instead of a store of HAPO's own.

``mode="min"`` (the authors' default) is the shortest correct length (``PromptRecord.shortest_correct``);
``mode="mean"`` the running mean over every correct answer, count-weighted (``correct_length_total / correct``).
A problem has no history until one of its answers is correct; wrong answers never change it (the record counts
lengths of correct completions only). The core updates the record after every plugin's ``on_rewards``, so a
batch's ``shape_rewards`` reads the history as it stood *before* this batch::

    h = history_lengths(trainer.records, batch.prompt_ids, batch.variants)      # (B,) NaN where empty

The record is keyed by ``(prompt_id, prompt_variant)``: a prompt QuestA generated with a 50% hint has its own
history, which never becomes the target of the same problem at 25% (or without a hint). With one variant (no
QuestA) this is exactly the authors' per-problem history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

MODES = ("min", "mean")


def history_length(record, mode: str = "min") -> float:
    """One record's history: the shortest (``min``) or mean (``mean``) correct length, NaN without a correct answer."""
    if record is None or record.correct == 0 or record.shortest_correct is None:
        return float("nan")
    if mode == "min":
        return float(record.shortest_correct)
    return record.correct_length_total / record.correct


def history_lengths(records, prompt_ids: Sequence[int], variants: Sequence[str] | None = None,
                    mode: str = "min") -> torch.Tensor:
    """(B,) float64: each row's history from ``records`` (a ``trl_reasoning.PromptRecords``) by ``(prompt_id,
    variant)``; NaN where the problem (in that variant) has no correct answer yet. ``variants`` empty: all ``""``."""
    if mode not in MODES:
        raise ValueError(f"unknown HAPO history mode {mode!r}; use one of {', '.join(MODES)}")
    ids = [int(p) for p in prompt_ids]
    if any(p < 0 for p in ids):
        raise ValueError("HAPO needs the dataset's `prompt_id` column on every row (got a negative id)")
    variants = list(variants) if variants else [""] * len(ids)
    return torch.tensor([history_length(records.get(p, v), mode) for p, v in zip(ids, variants)],
                        dtype=torch.float64)  # (B,)


def history_stats(records, prompt_ids: Iterable[int], mode: str = "min",
                  num_problems: int | None = None) -> dict[str, float]:
    """``share_with_history``: share of the problems (``prompt_ids``, out of ``num_problems``, default their number)
    with a history in any variant; ``mean_history``: the mean history over every (problem, variant) that has one."""
    ids = list(dict.fromkeys(int(p) for p in prompt_ids))
    wanted = set(ids)
    known, values = set(), []
    for pid, variant in records.keys():  # one pass over the record
        length = history_length(records.get(pid, variant), mode)
        if pid in wanted and length == length:  # not NaN
            known.add(pid)
            values.append(length)
    return {"share_with_history": len(known) / max(num_problems or len(ids), 1),
            "mean_history": sum(values) / len(values) if values else float("nan")}
