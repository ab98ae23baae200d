"""The record that flows from generation to the loss, so every hook sees the same facts under the same names.

A ``RolloutBatch`` holds one generation round of the whole run: every process's completions in global order
(groups of ``num_generations`` contiguous), identical on every rank. Hooks receive it by keyword as ``batch``::

    @hookimpl
    def on_rewards(self, batch):
        for group in range(batch.num_groups):
            rows = batch.group_slice(group)
            pass_rate = batch.correct[rows].float().mean()      # scalar

Each generation round also has a ``GenerationRound`` (``batch.round``, and the ``round`` keyword of the per-step
hooks): the step, which round of the step it is (0, then 1, 2, ... for dynamic-sampling refills), and a run-wide
round counter, identical on every rank, so no plugin needs private counters to tell a refill from a new step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class GenerationRound:
    """One generation round: what the per-step hooks receive as ``round``."""

    step: int  # trainer.state.global_step when this round is generated (0-based, as hooks see it)
    round_index: int  # 0: the step's first generation round; 1, 2, ...: dynamic-sampling refill rounds
    is_refill: bool  # round_index > 0
    generation: int  # generation rounds this run produced before this one (identical on all ranks; checkpointed)

    @classmethod
    def first(cls, step: int, generation: int) -> "GenerationRound":
        """The first generation round of ``step``."""
        return cls(step=step, round_index=0, is_refill=False, generation=generation)

    def refill(self, round_index: int, generation: int) -> "GenerationRound":
        """The ``round_index``-th replacement round of the same step."""
        return GenerationRound(step=self.step, round_index=round_index, is_refill=round_index > 0,
                               generation=generation)


@dataclass
class Advantages:
    """What the ``advantages`` hook may return instead of a bare tensor: the advantages and extra per-row fields
    for the loss (as ``extra_batch_fields`` would add them), computed together so nothing is stashed between hooks."""

    values: torch.Tensor  # (B_local,) or per-token (B_local, T)
    extra_fields: dict[str, torch.Tensor] = field(default_factory=dict)  # each (B_local, ...)


@dataclass(frozen=True)
class CompletionRow:
    """One completion's facts as its process saw them; the rows of every process are gathered once per round."""

    prompt_id: int
    token_ids: list[int]  # (T_i,) EOS included, nothing after it
    truncated: bool  # hit max_completion_length without EOS
    prompt: Any  # as generated from (messages or text)
    completion: str  # decoded text
    row: dict  # the dataset columns (after select_prompts / transform_prompt)
    correct: bool | None  # the correctness reward's verdict (None: it reports none)


@dataclass
class RolloutBatch:
    step: int  # optimizer step at which these completions were generated
    num_generations: int  # G: completions per prompt
    prompt_ids: list[int]  # (B,) dataset prompt_id of each completion's prompt
    prompts: list[Any]  # (B,) the prompt as generated from (messages or text)
    completions: list[str]  # (B,) decoded completion text
    completion_token_ids: list[list[int]]  # (B,) token ids, EOS included, nothing after it
    completion_lengths: torch.Tensor  # (B,) int64 token count
    truncated: torch.Tensor  # (B,) bool: hit max_completion_length without EOS
    rewards: torch.Tensor  # (B, F) float32 reward of each function (NaN where a function abstained)
    reward_names: list[str]  # (F,)
    reward_weights: torch.Tensor  # (F,)
    correct: torch.Tensor | None  # (B,) bool from the correctness reward; None when no reward decides correctness
    rows: list[dict] = field(default_factory=list)  # (B,) the dataset columns of each completion's row
    process_index: int = 0
    local_size: int = 0  # rows of this process: this rank owns [process_index*local_size, (process_index+1)*local_size)
    variants: list[str] = field(default_factory=list)  # (B,) each row's ``prompt_variant`` ("" = the plain prompt)
    round: GenerationRound | None = None  # the generation round these completions come from

    @classmethod
    def from_rows(cls, rows: list[CompletionRow], rewards: torch.Tensor, correct: torch.Tensor | None, **fields):
        """The batch of ``rows`` (global order) with ``rewards (B, F)`` and ``correct (B,)``; ``fields``: ``step``,
        ``num_generations``, ``reward_names``, ``reward_weights``, ``process_index``, ``local_size``, ``round``."""
        return cls(
            prompt_ids=[int(r.prompt_id) for r in rows],
            prompts=[r.prompt for r in rows],
            completions=[r.completion for r in rows],
            completion_token_ids=[list(r.token_ids) for r in rows],
            completion_lengths=torch.tensor([len(r.token_ids) for r in rows], dtype=torch.long),  # (B,)
            truncated=torch.tensor([bool(r.truncated) for r in rows], dtype=torch.bool),  # (B,)
            rewards=rewards,  # (B, F)
            correct=correct,  # (B,)
            rows=[r.row for r in rows],
            variants=[str(r.row.get("prompt_variant", "")) for r in rows],
            **fields,
        )

    def variant(self, index: int) -> str:
        """The prompt variant of completion ``index`` (``""`` when rows carry none)."""
        return self.variants[index] if self.variants else ""

    @property
    def size(self) -> int:
        return len(self.completions)

    @property
    def num_groups(self) -> int:
        return self.size // self.num_generations

    @property
    def group_index(self) -> torch.Tensor:
        """(B,) int64: the group each completion belongs to."""
        return torch.arange(self.size) // self.num_generations  # (B,)

    def group_slice(self, group: int) -> slice:
        return slice(group * self.num_generations, (group + 1) * self.num_generations)

    @property
    def total_reward(self) -> torch.Tensor:
        """(B,) weighted sum of the rewards, NaN-aware (as TRL sums them)."""
        return (self.rewards * self.reward_weights.unsqueeze(0)).nansum(dim=1)  # (B,)

    def group_pass_rate(self) -> torch.Tensor:
        """(num_groups,) share of correct completions per group; from the reward when no ``correct`` flag exists."""
        flags = self.correct.float() if self.correct is not None else (self.total_reward > 0).float()  # (B,)
        return flags.view(self.num_groups, self.num_generations).mean(dim=1)  # (num_groups,)

    def group_reward_std(self) -> torch.Tensor:
        """(num_groups,) population std of the total reward within each group."""
        grouped = self.total_reward.view(self.num_groups, self.num_generations)  # (num_groups, G)
        return grouped.std(dim=1, unbiased=False)  # (num_groups,)

    def reward(self, name: str) -> torch.Tensor:
        """(B,) the rewards of one function by name."""
        return self.rewards[:, self.reward_names.index(name)]  # (B,)

    @property
    def local_slice(self) -> slice:
        return slice(self.process_index * self.local_size, (self.process_index + 1) * self.local_size)


@dataclass
class LossContext:
    # None only if TRL's training forward did not go through _get_per_token_logps_and_entropies
    per_token_logps: torch.Tensor | None  # (B, T) log-probs of the completion tokens under the current policy
    entropies: torch.Tensor | None  # (B, T) per-token entropy of the policy
    completion_mask: torch.Tensor  # (B, T) 1 on real completion tokens
    inputs: dict  # the micro-batch TRL computed the loss on (extra_batch_fields are here)
    grad_accum_steps: int
    step: int
