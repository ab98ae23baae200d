"""Dynamic sampling: refill a generation batch with groups that pass ``group_filter``.

With ``trainer.group_filter: [lo, hi]`` alone, groups whose pass rate lies outside the band keep their place in the
batch with zero advantage. With ``trainer.group_filter_max_rounds: R > 0`` as well, the trainer generates up to ``R``
further rounds of ``m`` replacement prompts (``m`` = unique prompts per generation batch) while fewer than ``m`` groups
pass, then keeps the first ``m`` passing groups in round order (DAPO's dynamic sampling). When the rounds run out
first, the batch is topped up with filtered groups from the earliest rounds, still with zero advantage, so the batch
always holds ``m`` whole groups and TRL's shapes never change.

Groups straddle processes, so each round's output is gathered (padded to a common width), the picked groups are
laid out in global order, and each process takes back its own slice. The loop is ``refill_groups``; the pure part
(which groups to keep) is ``plan_groups``; the tensor part is ``gather_output`` / ``assemble_output``; the record
part is ``take_groups``. Each replacement round is a ``GenerationRound`` with ``is_refill=True`` and an increasing
``round_index``, which every per-step hook receives as ``round``.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Callable

import torch

from trl_reasoning.rollouts import GenerationRound, RolloutBatch


@dataclasses.dataclass
class GeneratedRound:
    """One generation round as the trainer produced it."""

    inputs: list[dict]  # (B_local,) the rows generated from, after select_prompts / transform_prompt
    output: dict  # TRL's generation output for this rank (advantages already the plugin's, if any)
    batch: RolloutBatch | None  # the global record (None when no record was built)
    extra_fields: dict  # per-row loss fields the advantages hook returned with its advantages


def replacement_rows(trainer, local_size: int, round: GenerationRound) -> list[dict]:
    """This rank's rows of a fresh generation batch: unique prompts drawn from the eligible rows with a generator
    keyed by (seed, step, round), identical on every rank, expanded to groups (prompts not yet rewritten)."""
    G = trainer.num_generations
    count = local_size * trainer.accelerator.num_processes // G
    eligible = trainer.eligible_rows(round)
    if not eligible:
        raise ValueError("group_filter_max_rounds: candidate_rows left no eligible training rows")
    rng = random.Random(f"refill:{trainer.args.seed}:{round.step}:{round.round_index}")
    picked = rng.sample(eligible, count) if len(eligible) >= count else [rng.choice(eligible) for _ in range(count)]
    expanded = [dict(trainer.train_dataset[i]) for i in picked for _ in range(G)]
    start = trainer.accelerator.process_index * local_size
    return expanded[start:start + local_size]


def refill_groups(trainer, generate_round: Callable[[list[dict], GenerationRound], GeneratedRound], local_size: int,
                  first: GeneratedRound, keep: torch.Tensor) -> tuple[dict, RolloutBatch, torch.Tensor]:
    """Generate replacement rounds until the batch's groups pass ``group_filter`` (or ``group_filter_max_rounds``
    is reached), then lay out the picked groups: ``(output, batch, kept (num_groups,))``."""
    if first.extra_fields:
        raise ValueError("group_filter_max_rounds: the advantages hook returned extra loss fields, which refill "
                         "rounds cannot reassemble; set trainer.group_filter_max_rounds: 0")
    batch = first.batch
    pad = getattr(trainer.processing_class, "pad_token_id", None)
    pad = 0 if pad is None else pad
    rounds, batches, keeps = [gather_output(trainer.accelerator, first.output, pad)], [batch], [keep]
    for round_index in range(1, trainer.args.group_filter_max_rounds + 1):
        if sum(int(k.sum()) for k in keeps) >= batch.num_groups:
            break
        round = trainer.next_round(round_index)
        done = generate_round(replacement_rows(trainer, local_size, round), round)
        rounds.append(gather_output(trainer.accelerator, done.output, pad))
        batches.append(done.batch)
        round_keep = trainer.hooks.kept_groups(done.batch)
        keeps.append(round_keep if round_keep is not None else torch.ones(batch.num_groups, dtype=torch.bool))
    trainer._metrics["train"]["group_filter/rounds"].append(float(len(rounds)))
    picks, kept = plan_groups(keeps, batch.num_groups)
    output = {**first.output, **assemble_output(rounds, picks, trainer.num_generations, batch.local_slice, pad)}
    output["num_items_in_batch"] = global_token_count(rounds, picks, trainer.num_generations,
                                                      output["completion_ids"].device)
    return output, take_groups(batches, picks), kept

# TRL output key -> (padding side, padding value). "pad" means the tokenizer's pad token.
PADDED_KEYS = {
    "prompt_ids": ("left", "pad"),
    "prompt_mask": ("left", 0),
    "completion_ids": ("right", "pad"),
    "completion_mask": ("right", 0),
    "old_per_token_logps": ("right", 0.0),
    "ref_per_token_logps": ("right", 0.0),
    "sampling_per_token_logps": ("right", 0.0),
    "importance_sampling_ratio": ("right", 1.0),
    "tool_mask": ("right", 1),
    "advantages": ("right", 0.0),  # (B,) or per-token (B, T)
}
SCALAR_KEYS = ("num_items_in_batch",)


def plan_groups(keeps: list[torch.Tensor], num_groups: int) -> tuple[list[tuple[int, int]], torch.Tensor]:
    """Choose ``num_groups`` groups from several rounds: passing groups first (round order, then group order), then
    filtered groups from the earliest rounds if too few pass.

    ``keeps[r]`` is the ``(num_groups_r,)`` bool mask of round ``r``. Returns ``[(round, group), ...]`` of length
    ``num_groups`` and the ``(num_groups,)`` bool mask of which picked groups passed.
    """
    passing = [(r, g) for r, keep in enumerate(keeps) for g in range(len(keep)) if bool(keep[g])]
    failing = [(r, g) for r, keep in enumerate(keeps) for g in range(len(keep)) if not bool(keep[g])]
    picks = (passing + failing)[:num_groups]
    if len(picks) < num_groups:
        raise ValueError(f"plan_groups: {len(picks)} groups in all rounds, need {num_groups}")
    kept = torch.tensor([i < len(passing) for i in range(num_groups)], dtype=torch.bool)  # (num_groups,)
    return picks, kept


def _pad_to(t: torch.Tensor, width: int, side: str, value) -> torch.Tensor:
    missing = width - t.size(1)
    if missing <= 0:
        return t
    filler = torch.full((t.size(0), missing, *t.shape[2:]), value, dtype=t.dtype, device=t.device)  # (B, missing)
    return torch.cat([filler, t] if side == "left" else [t, filler], dim=1)  # (B, width)


def gather_output(accelerator, output: dict, pad_token_id: int) -> dict:
    """Every process's rows of one TRL generation output, in global order (identical on every rank)."""
    unsupported = sorted(set(output) - set(PADDED_KEYS) - set(SCALAR_KEYS))
    if unsupported:
        raise ValueError(f"group_filter_max_rounds cannot refill outputs with {unsupported} (multimodal or "
                         "tool outputs); set trainer.group_filter_max_rounds: 0")
    gathered = {}
    for key, (side, value) in PADDED_KEYS.items():
        if key not in output or output[key] is None:
            continue
        t = output[key]
        value = pad_token_id if value == "pad" else value
        if t.dim() >= 2:
            t = accelerator.pad_across_processes(t, dim=1, pad_index=value, pad_first=side == "left")  # (B_local, W)
        gathered[key] = accelerator.gather(t)  # (B_global, W) or (B_global,)
    return gathered


def assemble_output(rounds: list[dict], picks: list[tuple[int, int]], num_generations: int, local: slice,
                    pad_token_id: int) -> dict:
    """This process's rows of the picked groups: TRL's output dict for the assembled batch."""
    starts, offset = [], 0
    for r in rounds:
        starts.append(offset)
        offset += r["completion_ids"].size(0)
    rows = torch.tensor([starts[r] + g * num_generations + j for r, g in picks for j in range(num_generations)])
    rows = rows[local]  # (B_local,) indices into the concatenated rounds
    out = {}
    for key, (side, value) in PADDED_KEYS.items():
        if key not in rounds[0]:
            continue
        value = pad_token_id if value == "pad" else value
        parts = [r[key] for r in rounds]
        if parts[0].dim() >= 2:
            width = max(p.size(1) for p in parts)
            parts = [_pad_to(p, width, side, value) for p in parts]  # each (B_global, width)
        out[key] = torch.cat(parts, dim=0)[rows.to(parts[0].device)]  # (B_local, ...)
    # Trim padding columns no local row uses (TRL pads per process the same way).
    keep_prompt = out["prompt_mask"].bool().any(dim=0)  # (P,)
    first = int(keep_prompt.nonzero()[0]) if keep_prompt.any() else out["prompt_mask"].size(1) - 1
    keep_completion = out["completion_mask"].bool().any(dim=0)  # (C,)
    last = int(keep_completion.nonzero()[-1]) + 1 if keep_completion.any() else 1
    for key, (side, _) in PADDED_KEYS.items():
        if key in out and out[key].dim() >= 2 and out[key].size(1) > 1:
            if key.startswith("prompt"):
                out[key] = out[key][:, first:]  # (B_local, P')
            elif key != "importance_sampling_ratio" or out[key].size(1) == out["completion_ids"].size(1):
                out[key] = out[key][:, :last]  # (B_local, C')
    return out


def global_token_count(rounds: list[dict], picks: list[tuple[int, int]], num_generations: int, device) -> torch.Tensor:
    """TRL's ``num_items_in_batch`` for the assembled batch: loss tokens over every process's picked rows."""
    total = 0
    for r, g in picks:
        rows = slice(g * num_generations, (g + 1) * num_generations)
        mask = rounds[r]["completion_mask"][rows]  # (G, C)
        if "tool_mask" in rounds[r]:
            mask = mask * rounds[r]["tool_mask"][rows]  # (G, C)
        total += int(mask.sum())
    return torch.tensor(total, device=device)


def take_groups(batches: list[RolloutBatch], picks: list[tuple[int, int]]) -> RolloutBatch:
    """The rollout record of the assembled batch (same layout as the output: picked groups in order)."""
    first = batches[0]
    G = first.num_generations
    rows = [(r, g * G + j) for r, g in picks for j in range(G)]

    def cat(name):
        return torch.cat([getattr(batches[r], name)[i:i + 1] for r, i in rows], dim=0)

    correct = None if first.correct is None else cat("correct")  # (B,)
    return dataclasses.replace(
        first,
        prompt_ids=[batches[r].prompt_ids[i] for r, i in rows],
        prompts=[batches[r].prompts[i] for r, i in rows],
        completions=[batches[r].completions[i] for r, i in rows],
        completion_token_ids=[batches[r].completion_token_ids[i] for r, i in rows],
        completion_lengths=cat("completion_lengths"),  # (B,)
        truncated=cat("truncated"),  # (B,)
        rewards=cat("rewards"),  # (B, F)
        correct=correct,
        rows=[batches[r].rows[i] for r, i in rows] if all(b.rows for b in batches) else [],
        variants=[batches[r].variants[i] for r, i in rows] if all(b.variants for b in batches) else [],
    )
