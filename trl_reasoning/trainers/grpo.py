"""``ReasoningGRPOTrainer``: TRL's ``GRPOTrainer`` with a hook at every phase of the step.

It overrides these ``GRPOTrainer`` methods, each calling ``super()`` (a contract test pins their signatures):

* ``_generate_and_score_completions``: prompt selection and rewriting before generation (``select_prompts``,
  ``transform_prompt``); after it, custom advantages, group filtering with optional refill rounds (dynamic
  sampling, ``group_filter_max_rounds``, see ``trainers/refill.py``), the ``pg_loss_coef`` scale (0 gives
  entropy-only training) and extra per-row fields for the loss.
* ``_calculate_rewards``: builds the global ``RolloutBatch`` once rewards are gathered, lets plugins reshape rewards
  (``shape_rewards``) and observe them (``on_rewards``), and warns on truncation and zero-variance groups.
* ``_compute_loss``: adds ``loss_terms`` (reusing the forward pass's log-probs and entropies).
* ``_get_per_token_logps_and_entropies``: keeps the training forward's log-probs and entropies for ``loss_terms``.
* ``create_optimizer``, ``_get_train_sampler``, ``_save_checkpoint``, ``_load_optimizer_and_scheduler``:
  plugin parameter groups, samplers and checkpointed plugin state; ``_get_output_dir`` points TRL's checkpoint
  writer at a staging directory so a checkpoint appears under its name only when whole (``checkpoints.py``).
* ``create_model_card``: writes trl-reasoning's model card (``hub.py``) where TRL writes its own.

With no active plugin and default settings every override is a pass-through (see ``benchmarks/overhead.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer

from trl.trainer.utils import RepeatSampler

from trl_reasoning.config.schema import bounds, ordered_unit_interval
from trl_reasoning.rollouts import LossContext, RolloutBatch
from trl_reasoning.trainers.sampler import EpochSeededRepeatSampler
from trl_reasoning.trainers.base import ReasoningTrainerMixin, collect_auxiliary_models

logger = logging.getLogger("trl_reasoning")

from trl_reasoning.lifecycle.checkpoints import PLUGIN_STATE_FILE  # noqa: F401  (re-exported: where plugin state lives)


@dataclass
class ReasoningGRPOConfig(GRPOConfig):
    """``GRPOConfig`` plus the options trl-reasoning adds to every GRPO-based trainer."""

    pg_loss_coef: float = field(default=1.0, metadata={**bounds(ge=0),
        "help": "Scale of the policy-gradient term, applied to the advantages after rewards are recorded. 0 gives "
                "entropy-only training (1-shot RLVR's `pg_loss_coeff=0`): TRL's entropy bonus and KL term stay."})
    group_filter: list[float] | None = field(default=None, metadata={**bounds(check=ordered_unit_interval),
        "help": "Keep only groups whose pass rate (from the `correct` flag) lies in [lo, hi]; others get zero "
                "advantage. E.g. [0.05, 0.95] (QuestA) or [0.01, 0.99] (drop zero-variance groups)."})
    group_filter_max_rounds: int = field(default=0, metadata={**bounds(ge=0),
        "help": "Dynamic sampling (DAPO): while fewer groups than the batch's prompts pass `group_filter`, generate "
                "up to this many further rounds of replacement prompts (drawn from the rows `candidate_rows` "
                "allows, then through `select_prompts`/`transform_prompt`) and keep the first passing groups. When "
                "the rounds run out, filtered groups fill the rest with zero advantage. 0: no refill."})
    warn_truncated_fraction: float = field(default=0.5, metadata={**bounds(ge=0, le=1),
        "help": "Warn when more than this share of completions hit max_completion_length (see TRL #5697)."})
    warn_zero_std_fraction: float = field(default=0.9, metadata={**bounds(ge=0, le=1),
        "help": "Warn when more than this share of groups have identical rewards (no learning signal)."})


class ReasoningGRPOTrainer(ReasoningTrainerMixin, GRPOTrainer):
    """GRPO with trl-reasoning's hooks. Build it through ``trl_reasoning.run`` or directly::

        trainer = ReasoningGRPOTrainer(model=model, reward_funcs=[reward], args=ReasoningGRPOConfig(...),
                                       train_dataset=dataset, processing_class=tokenizer, plugin_manager=pm)
    """

    config_class = ReasoningGRPOConfig

    def __init__(self, *args, plugin_manager=None, recipe=None, **kwargs):
        from trl_reasoning.plugins.manager import PluginManager

        self.pm = plugin_manager if plugin_manager is not None else PluginManager(discover=False)
        self.recipe = recipe
        self.auxiliary: dict[str, torch.nn.Module] = {}
        self._last_batch: RolloutBatch | None = None
        self._forward_cache = None
        self._warned: set[str] = set()
        model = kwargs.get("model", args[0] if args else None)
        if model is not None and not isinstance(model, str):
            self.pm.hook.modify_model(model=model, processing_class=kwargs.get("processing_class"), recipe=recipe)
        super().__init__(*args, **kwargs)
        for option in dataclasses.fields(ReasoningGRPOConfig):  # a plain GRPOConfig (or args=None, which TRL fills
            if option.init and not hasattr(self.args, option.name):  # with one): our options take their defaults
                setattr(self.args, option.name, option.default if option.default is not dataclasses.MISSING
                        else option.default_factory())
        if self.args.group_filter is not None and "group_filter" not in self.pm.active:
            from trl_reasoning.trainers.group_filter import PassRateBand

            self.pm.register_active("group_filter", PassRateBand(*self.args.group_filter))
        self._has = {name: bool(getattr(self.pm.hook, name).get_hookimpls()) for name in (
            "select_prompts", "transform_prompt", "shape_rewards", "on_rewards", "filter_groups", "advantages",
            "extra_batch_fields", "loss_terms", "schedule", "metrics")}
        self._correct_func = next((i for i, f in enumerate(self.reward_funcs) if hasattr(f, "is_correct")), None)
        for name, module in collect_auxiliary_models(self).items():
            self.auxiliary[name] = module
        from trl_reasoning.trainers.callbacks import HookCallback

        # first, so the plugin metrics it merges into each log line reach metrics.jsonl and report_to loggers
        self.callback_handler.callbacks.insert(0, HookCallback(self))
        self.pm.hook.trainer_ready(trainer=self)

    # -- setup ------------------------------------------------------------------------------------------------------

    def _get_train_sampler(self, dataset=None):
        default = super()._get_train_sampler(dataset)
        if type(default) is RepeatSampler:  # a resumed run draws each epoch's order as the uninterrupted one did
            default = EpochSeededRepeatSampler.like(default)
        custom = self.pm.hook.train_sampler(trainer=self, dataset=dataset if dataset is not None
                                            else self.train_dataset, default_sampler=default)
        return custom if custom is not None else default

    # -- generation ---------------------------------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs):
        training = self.model.training
        if training and (self._has["select_prompts"] or self._has["transform_prompt"]):
            inputs = self._rewrite_prompts(inputs)
        self._last_batch = None
        output = super()._generate_and_score_completions(inputs)
        if not training or self._last_batch is None:
            return output
        batch = self._last_batch
        output["advantages"] = self._custom_advantages(batch, inputs, output)
        keep = self._kept_groups(batch)
        if keep is not None and self.args.group_filter_max_rounds > 0:
            self._metrics["train"]["group_filter/first_round_kept_fraction"].append(keep.float().mean().item())
            if not keep.all():
                output, batch, keep = self._refill_groups(len(inputs), output, batch, keep)
                self._last_batch = batch
        advantages = output["advantages"]  # (B_local,) or (B_local, T)
        if keep is not None:
            row_keep = keep.repeat_interleave(batch.num_generations)[batch.local_slice]  # (B_local,)
            row_keep = row_keep.to(advantages.device)
            advantages = advantages * (row_keep.view(-1, *[1] * (advantages.dim() - 1))).to(advantages.dtype)
            self._metrics["train"]["group_filter/kept_fraction"].append(keep.float().mean().item())
        if self.args.pg_loss_coef != 1.0:
            advantages = advantages * self.args.pg_loss_coef
        output["advantages"] = advantages
        if self._has["extra_batch_fields"]:
            for result in self.pm.hook.extra_batch_fields(trainer=self, batch=batch, inputs=inputs, output=output):
                for key, value in (result or {}).items():
                    if key in output:
                        raise ValueError(f"extra_batch_fields: {key!r} would overwrite TRL's own field")
                    output[key] = value
        return output

    def _custom_advantages(self, batch: RolloutBatch, inputs, output) -> torch.Tensor:
        advantages = output["advantages"]  # (B_local,) GRPO's
        if self._has["advantages"]:
            custom = self.pm.hook.advantages(trainer=self, batch=batch, inputs=inputs, output=output)
            if custom is not None:
                advantages = custom.to(advantages.device)  # (B_local,) or (B_local, T)
        return advantages

    def eligible_rows(self) -> list[int]:
        """Indices of ``train_dataset`` rows eligible now: all rows narrowed by the ``candidate_rows`` chain."""
        indices = list(range(len(self.train_dataset)))
        return self.pm.call_chain("candidate_rows", "indices", indices, trainer=self, dataset=self.train_dataset)

    def _replacement_inputs(self, local_size: int, round_index: int) -> list[dict]:
        """This rank's rows of a fresh generation batch for dynamic sampling: unique prompts drawn from the eligible
        rows with a generator keyed by (seed, step, round), identical on every rank, expanded to groups."""
        import random

        G = self.num_generations
        count = local_size * self.accelerator.num_processes // G
        eligible = self.eligible_rows()
        if not eligible:
            raise ValueError("group_filter_max_rounds: candidate_rows left no eligible training rows")
        rng = random.Random(f"refill:{self.args.seed}:{self.state.global_step}:{round_index}")
        picked = rng.sample(eligible, count) if len(eligible) >= count else [rng.choice(eligible) for _ in range(count)]
        expanded = [dict(self.train_dataset[i]) for i in picked for _ in range(G)]
        start = self.accelerator.process_index * local_size
        rows = expanded[start:start + local_size]
        if self._has["select_prompts"] or self._has["transform_prompt"]:
            rows = self._rewrite_prompts(rows)
        return rows

    def _refill_groups(self, local_size: int, output: dict, batch: RolloutBatch, keep: torch.Tensor):
        """Dynamic sampling: generate replacement rounds until the batch's groups pass ``group_filter`` (or
        ``group_filter_max_rounds`` is reached), then lay out the picked groups (see ``trainers/refill.py``)."""
        from trl_reasoning.trainers.refill import assemble_output, gather_output, global_token_count, plan_groups, take_groups

        pad = self.processing_class.pad_token_id if hasattr(self.processing_class, "pad_token_id") else 0
        pad = 0 if pad is None else pad
        rounds, batches, keeps = [gather_output(self.accelerator, output, pad)], [batch], [keep]
        for round_index in range(1, self.args.group_filter_max_rounds + 1):
            if sum(int(k.sum()) for k in keeps) >= batch.num_groups:
                break
            inputs = self._replacement_inputs(local_size, round_index)
            self._last_batch = None
            out = super()._generate_and_score_completions(inputs)
            out["advantages"] = self._custom_advantages(self._last_batch, inputs, out)
            rounds.append(gather_output(self.accelerator, out, pad))
            batches.append(self._last_batch)
            round_keep = self._kept_groups(self._last_batch)
            keeps.append(round_keep if round_keep is not None else torch.ones(batch.num_groups, dtype=torch.bool))
        self._metrics["train"]["group_filter/rounds"].append(float(len(rounds)))
        picks, kept = plan_groups(keeps, batch.num_groups)
        output = {**output, **assemble_output(rounds, picks, self.num_generations, batch.local_slice, pad)}
        output["num_items_in_batch"] = global_token_count(rounds, picks, self.num_generations,
                                                          output["completion_ids"].device)
        return output, take_groups(batches, picks), kept

    def _kept_groups(self, batch: RolloutBatch):
        keep = None
        if self._has["filter_groups"]:
            for result in self.pm.hook.filter_groups(trainer=self, batch=batch):
                if result is not None:
                    result = result.bool().cpu()
                    keep = result if keep is None else keep & result
        return keep

    def _rewrite_prompts(self, inputs: list[dict]) -> list[dict]:
        """Select and rewrite the unique prompts of the global generation batch on the main process, broadcast."""
        from accelerate.utils import broadcast_object_list, gather_object

        G = self.num_generations
        local = len(inputs)
        all_rows = gather_object(inputs)  # global order, groups contiguous
        unique = [all_rows[i] for i in range(0, len(all_rows), G)]
        chosen = [None]
        if self.accelerator.is_main_process:
            rows = unique
            if self._has["select_prompts"]:
                selected = self.pm.hook.select_prompts(trainer=self, rows=rows, num_prompts=len(rows))
                if selected is not None:
                    if len(selected) != len(rows):
                        raise ValueError(f"select_prompts returned {len(selected)} rows, expected {len(rows)}")
                    rows = list(selected)
            if self._has["transform_prompt"]:
                rows = [self.pm.call_chain("transform_prompt", "row", dict(row), trainer=self) for row in rows]
            chosen = [rows]
        broadcast_object_list(chosen, from_process=0)
        expanded = [dict(row) for row in chosen[0] for _ in range(G)]
        start = self.accelerator.process_index * local
        return expanded[start:start + local]

    # -- rewards ------------------------------------------------------------------------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # (B, F)
        if not self.model.training:
            return rewards_per_func
        batch = self._build_batch(inputs, prompts, completions, completion_ids_list, rewards_per_func)
        if self._has["shape_rewards"]:
            for result in self.pm.hook.shape_rewards(trainer=self, batch=batch):
                for name, values in (result or {}).items():
                    if name not in batch.reward_names:
                        raise ValueError(f"shape_rewards: no reward function named {name!r} "
                                         f"(have {batch.reward_names})")
                    column = batch.reward_names.index(name)
                    rewards_per_func[:, column] = values.to(rewards_per_func)  # (B,)
            batch.rewards = rewards_per_func.detach().float().cpu()
        if self._has["on_rewards"]:
            self.pm.hook.on_rewards(trainer=self, batch=batch)
        self._record_batch_metrics(batch)
        self._last_batch = batch
        return rewards_per_func

    def _build_batch(self, inputs, prompts, completions, completion_ids_list, rewards_per_func) -> RolloutBatch:
        from accelerate.utils import gather_object

        eos = self.processing_class.eos_token_id if hasattr(self.processing_class, "eos_token_id") else None
        limit = self.max_completion_length
        local_meta = [
            (row.get("prompt_id", -1), ids, len(ids) >= limit and (not ids or ids[-1] != eos))
            for row, ids in zip(inputs, completion_ids_list)
        ]
        single = self.accelerator.num_processes == 1
        meta = local_meta if single else gather_object(local_meta)
        all_prompts = prompts if single else gather_object(list(prompts))
        all_completions = completions if single else gather_object(list(completions))
        all_rows = inputs if single else gather_object([{k: v for k, v in r.items()} for r in inputs])
        texts = [c if isinstance(c, str) else (c[-1]["content"] if c else "") for c in all_completions]
        rewards = rewards_per_func.detach().float().cpu()  # (B, F)
        correct = None
        if self._correct_func is not None:
            func = self.reward_funcs[self._correct_func]
            correct = torch.tensor(func.is_correct(rewards[:, self._correct_func].tolist()), dtype=torch.bool)  # (B,)
        return RolloutBatch(
            step=self.state.global_step,
            num_generations=self.num_generations,
            prompt_ids=[int(m[0]) for m in meta],
            prompts=list(all_prompts),
            completions=texts,
            completion_token_ids=[list(m[1]) for m in meta],
            completion_lengths=torch.tensor([len(m[1]) for m in meta], dtype=torch.long),  # (B,)
            truncated=torch.tensor([bool(m[2]) for m in meta], dtype=torch.bool),  # (B,)
            rewards=rewards,
            reward_names=list(self.reward_func_names),
            reward_weights=self.reward_weights.detach().float().cpu(),  # (F,)
            correct=correct,
            rows=list(all_rows),
            process_index=self.accelerator.process_index,
            local_size=len(inputs),
        )

    def _record_batch_metrics(self, batch: RolloutBatch) -> None:
        metrics = self._metrics["train"]
        if batch.correct is not None:
            metrics["correct/rate"].append(batch.correct.float().mean().item())
        truncated = batch.truncated.float().mean().item()
        zero_std = (batch.group_reward_std() < 1e-6).float().mean().item() if batch.num_generations > 1 else 0.0
        if truncated > self.args.warn_truncated_fraction:
            self._warn_once("truncated", f"step {batch.step + 1}: {truncated:.0%} of completions hit "
                            f"max_completion_length={self.max_completion_length} without EOS; their rewards are "
                            "unreliable. Raise max_completion_length or set mask_truncated_completions (TRL #5697).")
        if zero_std > self.args.warn_zero_std_fraction:
            self._warn_once("zero_std", f"step {batch.step + 1}: {zero_std:.0%} of groups have identical rewards, so "
                            "they carry no gradient. Use easier problems, more generations, or partial credit.")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned and self.accelerator.is_main_process:
            self._warned.add(key)
            from trl_reasoning.console import console

            console.print(f"[yellow]warning:[/] {message}")

    # -- loss ---------------------------------------------------------------------------------------------------------

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, *args, **kwargs):
        result = super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                             batch_size, compute_entropy, *args, **kwargs)
        if self._has.get("loss_terms") and torch.is_grad_enabled() and compute_entropy:
            self._forward_cache = result  # (logps (B,T), entropies (B,T), aux)
        return result

    def _compute_loss(self, model, inputs):
        self._forward_cache = None
        loss = super()._compute_loss(model, inputs)
        if not self._has["loss_terms"] or not self.model.training:
            return loss
        logps, entropies = (self._forward_cache[0], self._forward_cache[1]) if self._forward_cache else (None, None)
        ctx = LossContext(per_token_logps=logps, entropies=entropies, completion_mask=inputs["completion_mask"],
                          inputs=inputs, grad_accum_steps=self.current_gradient_accumulation_steps,
                          step=self.state.global_step)
        for result in self.pm.hook.loss_terms(trainer=self, model=model, inputs=inputs, ctx=ctx):
            for name, term in (result or {}).items():
                loss = loss + term / self.current_gradient_accumulation_steps
                self._metrics["train"][f"loss/{name}"].append(term.detach().float().item())
        self._forward_cache = None
        return loss

    # -- scheduling -------------------------------------------------------------------------------------------------

    def apply_schedule(self, step: int) -> dict:
        """Merge every plugin's ``schedule`` for ``step`` and apply the core keys."""
        merged: dict = {}
        owners: dict = {}
        for name, result in self.pm.call_each("schedule", trainer=self, step=step).items():
            for key, value in result.items():
                if key in merged and merged[key] != value and key in CORE_SCHEDULE_KEYS:
                    raise ValueError(f"plugins {owners[key]!r} and {name!r} both schedule {key!r}")
                merged[key] = value
                owners[key] = name
        if "max_completion_length" in merged:
            self.set_max_completion_length(int(merged["max_completion_length"]))
        if "beta" in merged:
            if merged["beta"] != 0 and self.ref_model is None and self.beta == 0:
                raise ValueError("schedule: beta > 0 needs a reference model from the start (set trainer.beta > 0)")
            self.beta = float(merged["beta"])
        for key, value in merged.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._metrics["train"][f"schedule/{key}"].append(float(value))
        return merged

    def set_max_completion_length(self, n: int) -> None:
        """Change the generation budget from now on, on the transformers and the vLLM path (TRL reads it from
        several places; setting ``max_completion_length`` alone does nothing)."""
        self.max_completion_length = self.args.max_completion_length = n
        if getattr(self, "generation_config", None) is not None:
            self.generation_config.max_new_tokens = n
        if isinstance(getattr(self, "generation_kwargs", None), dict):
            self.generation_kwargs["max_new_tokens"] = n
        if getattr(self, "vllm_generation", None) is not None:
            self.vllm_generation.max_completion_length = n


CORE_SCHEDULE_KEYS = ("max_completion_length", "beta")
