"""The record that flows from generation to the loss, so every hook sees the same facts under the same names.

A ``RolloutBatch`` holds one generation round of the whole run: every process's completions in global order
(groups of ``num_generations`` contiguous), identical on every rank. Hooks receive it by keyword as ``batch``::

    @hookimpl
    def on_rewards(self, batch):
        for group in range(batch.num_groups):
            rows = batch.group_slice(group)
            pass_rate = batch.correct[rows].float().mean()      # scalar
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


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
    per_token_logps: torch.Tensor  # (B, T) log-probs of the completion tokens under the current policy
    entropies: torch.Tensor | None  # (B, T) per-token entropy of the policy
    completion_mask: torch.Tensor  # (B, T) 1 on real completion tokens
    inputs: dict  # the micro-batch TRL computed the loss on (extra_batch_fields are here)
    grad_accum_steps: int
    step: int
