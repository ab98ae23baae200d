"""``ReasoningGRPOTrainer``: TRL's ``GRPOTrainer`` with a hook at every phase of the step.

The hooks' combination rules live in ``trainer.hooks`` (``plugins/hooks.py: RunHooks``), the refill loop in
``trainers/refill.py`` and the checkpoint protocol in ``trainers/base.py``. This file overrides these
``GRPOTrainer`` methods, each calling ``super()`` (a contract test pins their signatures):

* ``_generate_and_score_completions``: one ``GenerationRound`` per generation (``round=`` of the per-step hooks);
  prompt selection and rewriting before it (``select_prompts``, ``transform_prompt``); after it, custom
  advantages, group filtering with optional refill rounds (dynamic sampling), the ``pg_loss_coef`` scale (0 gives
  entropy-only training) and extra per-row fields for the loss.
* ``_calculate_rewards``: builds the global ``RolloutBatch`` once rewards are gathered, lets plugins reshape rewards
  (``shape_rewards``) and observe them (``on_rewards``; then the core's ``trainer.records`` is updated), and warns
  on truncation and zero-variance groups.
* ``_compute_loss`` / ``_get_per_token_logps_and_entropies``: ``loss_terms`` on the training forward's log-probs.
* ``_get_train_sampler``: the epoch-seeded sampler, or a plugin's (``train_sampler``).

With no active plugin and default settings the overrides change nothing TRL computes; each generation round still
builds the global ``RolloutBatch`` (for ``trainer.records`` and the metrics: one ``gather_object`` on more than one
process), whose cost on one process ``benchmarks/overhead.py`` measures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from accelerate.utils import broadcast_object_list, gather_object
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import RepeatSampler

from trl_reasoning.config.schema import bounds, ordered_unit_interval, raise_all
from trl_reasoning.console import console
from trl_reasoning.data.answers import completion_text
from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.lifecycle.checkpoints import PLUGIN_STATE_FILE  # noqa: F401  (re-exported: where plugin state lives)
from trl_reasoning.plugins.composition import check_composition
from trl_reasoning.records import RECORDS_PLUGIN, RecordsPlugin
from trl_reasoning.rollouts import CompletionRow, GenerationRound, LossContext, RolloutBatch
from trl_reasoning.trainers.base import ReasoningTrainerMixin
from trl_reasoning.trainers.group_filter import GROUP_FILTER_PLUGIN, PassRateBand
from trl_reasoning.trainers.refill import GeneratedRound, refill_groups
from trl_reasoning.trainers.sampler import EpochSeededRepeatSampler


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

    ``trainer.records`` is the run's per-prompt record (``trl_reasoning.records``), ``trainer.hooks`` the typed hook
    facade, ``trainer.prompt_format`` the recipe's prompt renderer (``None`` without a recipe) and
    ``trainer.last_batch`` the ``RolloutBatch`` of the latest training step (for inspection; no core code reads it).
    """

    config_class = ReasoningGRPOConfig

    def _configure(self) -> None:
        for option in dataclasses.fields(ReasoningGRPOConfig):  # a plain GRPOConfig (or args=None, which TRL fills
            if option.init and not hasattr(self.args, option.name):  # with one): our options take their defaults
                setattr(self.args, option.name, option.default if option.default is not dataclasses.MISSING
                        else option.default_factory())
        self._warned: set[str] = set()
        self.last_batch: RolloutBatch | None = None
        self._round: GenerationRound | None = None  # the round TRL is generating (read by _calculate_rewards)
        self._round_batch: RolloutBatch | None = None  # its record, built inside TRL's generation (see below)
        self._forward_cache = None
        for name in (RECORDS_PLUGIN, GROUP_FILTER_PLUGIN):  # a stage's trainer replaces the previous stage's
            self.pm.unregister(name)
        self._records_plugin = RecordsPlugin()
        self.pm.register_active(RECORDS_PLUGIN, self._records_plugin)
        self.records = self._records_plugin.records
        if self.args.group_filter is not None:
            self.pm.register_active(GROUP_FILTER_PLUGIN, PassRateBand(*self.args.group_filter))
        compose = dict(getattr(self.recipe, "compose", None) or self.pm.composition)
        # prepare() checked the recipe; this covers plugins registered since (a trainer's internal plugin) and
        # trainers built without a recipe
        raise_all(check_composition(self.pm, compose=compose), "the plugins' composition")
        self.pm.set_composition(compose)
        self._correct_func = next((i for i, f in enumerate(self.reward_funcs)
                                   if getattr(f, "reports_correctness", False) or hasattr(f, "is_correct")), None)
        data = getattr(self.recipe, "data", None)
        self.prompt_format = PromptFormat.from_section(data) if data is not None else None

    # -- setup ------------------------------------------------------------------------------------------------------

    def _get_train_sampler(self, dataset=None):
        default = super()._get_train_sampler(dataset)
        if type(default) is RepeatSampler:  # a resumed run draws each epoch's order as the uninterrupted one did
            default = EpochSeededRepeatSampler.like(default)
        custom = self.pm.hook.train_sampler(trainer=self, dataset=dataset if dataset is not None
                                            else self.train_dataset, default_sampler=default)
        return custom if custom is not None else default

    # -- generation ---------------------------------------------------------------------------------------------------

    def next_round(self, round_index: int) -> GenerationRound:
        """The context of the next generation round of this step (the run's round counter is checkpointed)."""
        round = GenerationRound(step=self.state.global_step, round_index=round_index, is_refill=round_index > 0,
                                generation=self._records_plugin.generation)
        self._records_plugin.generation += 1
        return round

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        first = self._generate_round(inputs, self.next_round(0))
        output, batch = first.output, first.batch
        if batch is None:  # a subclass's _calculate_rewards did not build the record
            return output
        keep = self.hooks.kept_groups(batch)
        if keep is not None and self.args.group_filter_max_rounds > 0:
            self._metrics["train"]["group_filter/first_round_kept_fraction"].append(keep.float().mean().item())
            if not keep.all():
                output, batch, keep = refill_groups(self, self._generate_round, len(inputs), first, keep)
        advantages = output["advantages"]  # (B_local,) or (B_local, T)
        if keep is not None:
            row_keep = keep.repeat_interleave(batch.num_generations)[batch.local_slice]  # (B_local,)
            row_keep = row_keep.to(advantages.device).view(-1, *[1] * (advantages.dim() - 1))  # (B_local, 1...)
            advantages = advantages * row_keep.to(advantages.dtype)  # (B_local,) or (B_local, T)
            self._metrics["train"]["group_filter/kept_fraction"].append(keep.float().mean().item())
        if self.args.pg_loss_coef != 1.0:
            advantages = advantages * self.args.pg_loss_coef  # (B_local,) or (B_local, T)
        output["advantages"] = advantages
        output.update(self.hooks.extra_fields(batch, first.inputs, output, given=first.extra_fields))
        self.last_batch = batch
        return output

    def _generate_round(self, inputs: list[dict], round: GenerationRound) -> GeneratedRound:
        """One generation round: prompts selected and rewritten, TRL's generation and scoring, custom advantages."""
        if self.hooks.present("select_prompts") or self.hooks.present("transform_prompt"):
            inputs = self._rewrite_prompts(inputs, round)
        # TRL calls _calculate_rewards from inside its generation and returns only tensors, so the round goes in
        # and the record built there comes out through the trainer (set, read and cleared around this one call).
        self._round, self._round_batch = round, None
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._round = None
        batch, self._round_batch = self._round_batch, None
        custom = self.hooks.advantages(batch, inputs, output) if batch is not None else None
        if custom is not None:
            output["advantages"] = custom.values.to(output["advantages"].device)  # (B_local,) or (B_local, T)
        return GeneratedRound(inputs, output, batch, custom.extra_fields if custom is not None else {})

    def eligible_rows(self, round: GenerationRound | None = None) -> list[int]:
        """Indices of ``train_dataset`` rows eligible now: all rows narrowed by the ``candidate_rows`` chain."""
        return self.hooks.candidate_rows(list(range(len(self.train_dataset))), round)

    def _rewrite_prompts(self, inputs: list[dict], round: GenerationRound) -> list[dict]:
        """Select and rewrite the unique prompts of the global generation batch on the main process, broadcast."""
        G = self.num_generations
        local = len(inputs)
        all_rows = gather_object(inputs)  # global order, groups contiguous
        chosen = [None]
        if self.accelerator.is_main_process:
            unique = [all_rows[i] for i in range(0, len(all_rows), G)]
            rows = self.hooks.select_prompts(unique, len(unique), round) or unique
            rows = self.hooks.transform_prompts(rows, round)
            if any("prompt_variant" in row for row in rows):  # TRL reads reward columns from the first row's keys
                rows = [{**row, "prompt_variant": row.get("prompt_variant", "")} for row in rows]
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
        round = self._round if self._round is not None else self.next_round(0)  # called outside our generation
        batch = self._build_batch(inputs, prompts, completions, completion_ids_list, rewards_per_func, round)
        shaped = self.hooks.shape_rewards(batch)
        for name, values in shaped.items():
            rewards_per_func[:, batch.reward_names.index(name)] = values.to(rewards_per_func)  # (B,)
        if shaped:
            batch.rewards = rewards_per_func.detach().float().cpu()  # (B, F)
        self.hooks.on_rewards(batch)  # core:records updates trainer.records last (trylast)
        self._record_batch_metrics(batch)
        self._round_batch = batch
        return rewards_per_func

    def _local_correct(self, count: int) -> list[bool] | None:
        """This rank's ``correct`` flags from the correctness reward's ``last_correct`` (``None``: not reported)."""
        func = self.reward_funcs[self._correct_func] if self._correct_func is not None else None
        if not getattr(func, "reports_correctness", False):
            return None
        flags = list(getattr(func, "last_correct", None) or [])
        if len(flags) != count:
            raise ValueError(f"reward {getattr(func, '__name__', func)!r} reports correctness but its last_correct "
                             f"holds {len(flags)} flags for {count} completions")
        return [bool(f) for f in flags]

    def _build_batch(self, inputs, prompts, completions, completion_ids_list, rewards_per_func,
                     round: GenerationRound) -> RolloutBatch:
        eos = getattr(self.processing_class, "eos_token_id", None)
        limit = self.max_completion_length
        flags = self._local_correct(len(inputs))
        local = [CompletionRow(row.get("prompt_id", -1), ids, len(ids) >= limit and (not ids or ids[-1] != eos),
                               prompt, completion_text(completion), dict(row), None if flags is None else flags[i])
                 for i, (row, ids, prompt, completion) in enumerate(zip(inputs, completion_ids_list, prompts,
                                                                          completions))]
        rows = local if self.accelerator.num_processes == 1 else gather_object(local)  # one gather, (B,) rows
        rewards = rewards_per_func.detach().float().cpu()  # (B, F)
        correct = None
        if flags is not None:
            correct = torch.tensor([r.correct for r in rows], dtype=torch.bool)  # (B,)
        elif self._correct_func is not None:  # a reward that predates last_correct: read back from its values
            func = self.reward_funcs[self._correct_func]
            correct = torch.tensor(func.is_correct(rewards[:, self._correct_func].tolist()), dtype=torch.bool)  # (B,)
        return RolloutBatch.from_rows(
            rows, rewards, correct, step=self.state.global_step, num_generations=self.num_generations,
            reward_names=list(self.reward_func_names), reward_weights=self.reward_weights.detach().float().cpu(),
            process_index=self.accelerator.process_index, local_size=len(inputs), round=round)

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
            console.print(f"[yellow]warning:[/] {message}")

    # -- loss ---------------------------------------------------------------------------------------------------------

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, *args, **kwargs):
        result = super()._get_per_token_logps_and_entropies(model, input_ids, attention_mask, logits_to_keep,
                                                             batch_size, compute_entropy, *args, **kwargs)
        # TRL's _compute_loss runs the training forward here and keeps the result to itself: keep it for
        # loss_terms (set and cleared within one _compute_loss)
        if torch.is_grad_enabled() and compute_entropy and self.hooks.present("loss_terms"):
            self._forward_cache = result  # (logps (B,T), entropies (B,T), aux)
        return result

    def _compute_loss(self, model, inputs):
        self._forward_cache = None
        loss = super()._compute_loss(model, inputs)
        if not self.model.training or not self.hooks.present("loss_terms"):
            return loss
        logps, entropies = (self._forward_cache[0], self._forward_cache[1]) if self._forward_cache else (None, None)
        self._forward_cache = None
        ctx = LossContext(per_token_logps=logps, entropies=entropies, completion_mask=inputs["completion_mask"],
                          inputs=inputs, grad_accum_steps=self.current_gradient_accumulation_steps,
                          step=self.state.global_step)
        for name, term in self.hooks.loss_terms(model, inputs, ctx).items():
            loss = loss + term / self.current_gradient_accumulation_steps
            self._metrics["train"][f"loss/{name}"].append(term.detach().float().item())
        return loss

    # -- scheduling -------------------------------------------------------------------------------------------------

    def apply_schedule(self, step: int) -> dict:
        """Merge every plugin's ``schedule`` for ``step`` (``RunHooks.schedule``) and apply the core keys."""
        merged = self.hooks.schedule(step)
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
