"""``ReasoningPPOTrainer``: PPO with a learned critic and GAE, on the GRPO pipeline.

Generation (transformers or vLLM), rewards, every plugin hook, TRL's clipped policy loss, its KL loss (``beta``, k3)
and entropy bonus are GRPO's. What changes is the baseline: instead of the group mean, a critic predicts a value for
every completion token, and GAE turns the verifiable reward (on the last token) into per-token advantages ``(B, T)``,
which TRL's ``_compute_loss`` accepts unchanged. The PPO parts act through the core's own hooks, implemented by an
internal plugin object (``PPOHooks``) that the trainer registers on its plugin manager:

* ``auxiliary_models``: builds the critic (``critic.py``); ``param_groups``: adds it to the trainer's optimizer with
  its own learning rate (and, through ``create_scheduler``, its own schedule);
* ``advantages``: critic values, token rewards (optional k1 KL penalty), GAE, returns, global whitening (``gae.py``),
  returned as ``Advantages(values, extra_fields)``: the old values, returns and value mask travel with them through
  TRL's shuffle, split and buffer (nothing is stashed between hooks);
* ``loss_terms``: the clipped value loss on every micro-batch (``value_loss.py``).

One critic forward per step (``critic_single_pass``, the default): when the critic cannot change between the rollout
and its update (``num_iterations: 1``, one optimizer step per generation batch), ``advantages`` runs the critic with
gradient, feeds the detached values to GAE and back-propagates the clipped value loss right there, each row weighted
for the micro-batch TRL will train it in; ``loss_terms`` then only logs each micro-batch's share. Otherwise (PPO
epochs, several optimizer steps per generation batch, ``critic_single_pass: false``) the values come from a no-grad
forward at the rollout and the loss runs a second forward, as in verl.

A callback clips the critic's gradients (Trainer clips only the policy's), averages them across processes (the
critic is not wrapped in DDP: bucketed all-reduces, ``grad_sync.py``, started right after the single pass) and drops the policy's gradients during ``critic_warmup_steps``. The critic is saved in
every checkpoint as ``checkpoint-N/critic/`` and restored on resume; its optimizer state lives in the trainer's
optimizer (``optimizer.pt``). PPO epochs and mini-batches are TRL's ``num_iterations`` and ``steps_per_generation``.

Overrides (each calls ``super()``): ``__init__``, ``create_scheduler``, ``save_model``,
``_load_optimizer_and_scheduler``. DeepSpeed and FSDP are not supported (the critic shares the optimizer), so the
fp32 master weights come from the load: the policy with ``model.dtype: float32``, the critic with ``critic_dtype:
float32`` (the default), both computing in bf16 under ``bf16: true`` (autocast).
"""

from __future__ import annotations

import logging
import math
import os

import torch
from transformers import TrainerCallback

from trl_reasoning import DTYPE_KEY_ATTR, Advantages, PluginManager, ReasoningGRPOTrainer, hookimpl

from .config import ReasoningPPOConfig
from .critic import CRITIC_DIR, critic_spec, critic_values, load_critic, load_critic_weights, save_critic
from .gae import gae, masked_moments, token_rewards, whiten
from .grad_sync import finish_mean, start_mean
from .value_loss import (clipped_value_loss, clipped_value_terms, masked_mean, micro_batch_of_rows,
                         micro_batch_row_weights)

logger = logging.getLogger("trl_reasoning")

INTERNAL_PLUGIN = "ppo-trainer"
CRITIC_GROUP = "ppo_critic"  # marks the critic's optimizer parameter groups
FIELD_OLD_VALUES, FIELD_RETURNS, FIELD_VALUE_MASK = "ppo_old_values", "ppo_returns", "ppo_value_mask"
# single pass only: each row's (value-loss share, clipped tokens, value sum, tokens) and its predicted micro-batch
FIELD_VALUE_STATS, FIELD_MICRO_BATCH = "ppo_value_stats", "ppo_micro_batch"


class PPOHooks:
    """The trainer's PPO behaviour, expressed through the core's hooks (registered as ``ppo-trainer``)."""

    @hookimpl
    def auxiliary_models(self, trainer):
        return {"critic": trainer.build_critic()}

    @hookimpl
    def param_groups(self, trainer, model):
        return trainer.critic_param_groups()

    @hookimpl
    def advantages(self, trainer, batch, inputs, output):
        return trainer.ppo_advantages(batch, output)  # Advantages(values (B_local, T), extra_fields for the loss)

    @hookimpl
    def loss_terms(self, trainer, model, inputs, ctx):
        return {"value": trainer.value_loss(inputs)}


class CriticStepCallback(TrainerCallback):
    """Around each optimizer step: sync and clip the critic's gradients, drop the policy's during critic warm-up,
    then clear the critic's gradients (Trainer zeroes only the policy's)."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.trainer.before_optimizer_step()

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.trainer.critic.zero_grad(set_to_none=True)


class ReasoningPPOTrainer(ReasoningGRPOTrainer):
    """PPO with a critic and GAE. Select it in a recipe with ``trainer.algorithm: ppo``; build it directly as
    ``ReasoningGRPOTrainer`` (with a ``ReasoningPPOConfig``)."""

    config_class = ReasoningPPOConfig

    def __init__(self, *args, plugin_manager=None, recipe=None, **kwargs):
        config = kwargs.get("args", args[2] if len(args) > 2 else None)
        if not isinstance(config, ReasoningPPOConfig):
            raise TypeError(f"ReasoningPPOTrainer needs a ReasoningPPOConfig, got {type(config).__name__}")
        pm = plugin_manager if plugin_manager is not None else PluginManager(discover=False)
        pm.unregister(INTERNAL_PLUGIN)
        pm.register_active(INTERNAL_PLUGIN, PPOHooks())
        self._critic_schedule_set = False
        self._pending_critic_mean = None  # the single pass's all-reduce of the critic's gradients, in flight
        # k1 in the reward needs reference log-probs. Let TRL build the reference model exactly as for beta > 0
        # (PEFT "ref" adapter, DeepSpeed/FSDP preparation, fused LM head), then switch its KL loss back off.
        borrow_beta = config.kl_reward_coef > 0 and config.beta == 0.0
        if borrow_beta:
            config.beta = 1.0
        try:
            super().__init__(*args, plugin_manager=pm, recipe=recipe, **kwargs)
        finally:
            if borrow_beta:
                config.beta = 0.0
        if borrow_beta:
            self.beta = 0.0
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            raise ValueError("ReasoningPPOTrainer trains the critic in the policy's optimizer, which DeepSpeed and "
                             "FSDP do not allow; use DDP (plain `accelerate launch` / `torchrun`)")
        self.add_callback(CriticStepCallback(self))

    # -- critic and optimizer -----------------------------------------------------------------------------------

    @property
    def critic(self) -> torch.nn.Module:
        return self.auxiliary["critic"]

    def build_critic(self):
        spec = critic_spec(self.args, self.recipe, self.accelerator.unwrap_model(self.model))
        dtype = (self.accelerator.unwrap_model(self.model).dtype if self.args.critic_dtype == "policy"
                 else getattr(torch, self.args.critic_dtype))
        logger.info("critic: loading %s in %s", spec or "the recipe's model", dtype)
        critic = load_critic(self.recipe, spec, self.args, dtype=dtype)
        setattr(critic, DTYPE_KEY_ATTR, "trainer.critic_dtype")  # named by the start-up precision warning
        return critic

    def critic_param_groups(self) -> list[dict]:
        decay = set(self.get_decay_parameter_names(self.critic))
        params = [(name, p) for name, p in self.critic.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in params if n in decay], "weight_decay": self.args.critic_weight_decay},
            {"params": [p for n, p in params if n not in decay], "weight_decay": 0.0},
        ]
        return [{**g, "lr": self.args.critic_learning_rate, CRITIC_GROUP: True} for g in groups if g["params"]]

    def create_scheduler(self, num_training_steps, optimizer=None):
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if self._critic_schedule_set or self.args.critic_lr_scheduler_type == "policy":
            return scheduler
        optimizer = optimizer or self.optimizer
        indices = [i for i, group in enumerate(optimizer.param_groups) if group.get(CRITIC_GROUP)]
        if not indices:
            return scheduler
        if not hasattr(scheduler, "lr_lambdas"):
            raise ValueError(f"lr_scheduler_type={self.args.lr_scheduler_type!r} has no per-group schedule; set "
                             "critic_lr_scheduler_type: policy")
        from transformers import get_scheduler

        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        critic_schedule = get_scheduler(self.args.critic_lr_scheduler_type, optimizer=probe,
                                        num_warmup_steps=math.ceil(self.args.critic_warmup_ratio * num_training_steps),
                                        num_training_steps=num_training_steps).lr_lambdas[0]
        for i in indices:
            scheduler.lr_lambdas[i] = critic_schedule
            optimizer.param_groups[i]["lr"] = scheduler.base_lrs[i] * critic_schedule(scheduler.last_epoch)
        scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._critic_schedule_set = True
        return scheduler

    def _distributed(self) -> bool:
        return self.accelerator.num_processes > 1 and torch.distributed.is_initialized()

    def before_optimizer_step(self) -> None:
        params = [p for p in self.critic.parameters() if p.requires_grad]
        if self._distributed():  # the critic is not wrapped in DDP: average its gradients here (grad_sync.py)
            pending, self._pending_critic_mean = self._pending_critic_mean, None
            finish_mean(pending or start_mean(params))
        elif self.accelerator.num_processes > 1:  # no torch.distributed group (e.g. XLA): accelerate, per tensor
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                p.grad.copy_(self.accelerator.reduce(p.grad, reduction="mean"))
        if self.args.critic_max_grad_norm > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, self.args.critic_max_grad_norm)
            self._metrics["train"]["critic/grad_norm"].append(float(norm))
        if self.state.global_step < self.args.critic_warmup_steps:
            for p in self.model.parameters():
                p.grad = None

    # -- advantages -----------------------------------------------------------------------------------------------

    @property
    def critic_single_pass(self) -> bool:
        """Whether this rollout updates the critic in one pass (``critic_single_pass``): true when every
        micro-batch of the generation batch is trained before the next optimizer step and only once, so the
        critic's weights in the loss are the rollout's and its loss-time forward would repeat the rollout's."""
        accumulation = getattr(self, "current_gradient_accumulation_steps", self.args.gradient_accumulation_steps)
        return (self.args.critic_single_pass and self.num_iterations == 1
                and accumulation == self.args.steps_per_generation)

    @torch.no_grad()
    def ppo_advantages(self, batch, output) -> Advantages:
        """(B_local, T) GAE advantages of this rank's completions, with the old values, returns and value mask the
        value loss reads (``extra_fields``, each (B_local, T)). In a single pass (``critic_single_pass``) the
        critic's value loss is back-propagated here, and ``extra_fields`` carries each row's share of it."""
        prompt_ids, prompt_mask = output["prompt_ids"], output["prompt_mask"]  # (B, P), (B, P)
        completion_ids, completion_mask = output["completion_ids"], output["completion_mask"]  # (B, T), (B, T)
        mask = completion_mask.float()  # (B, T)
        if "tool_mask" in output:
            mask = mask * output["tool_mask"].float()  # (B, T)
        rewards_global = batch.rewards[batch.local_slice]  # (B, F)
        scorable = ~torch.isnan(rewards_global).all(dim=1)  # (B,) rows some reward function scored
        mask = mask * scorable.to(mask.device, mask.dtype).unsqueeze(1)  # (B, T)
        outcome = batch.total_reward[batch.local_slice].to(mask.device)  # (B,)
        kl = self._reward_kl(output) if self.args.kl_reward_coef > 0 else None  # (B, T) or None
        rewards = token_rewards(outcome, mask, kl, self.args.kl_reward_coef)  # (B, T)
        single_pass = {}
        if self.critic_single_pass:
            values, single_pass = self._critic_single_pass(output, rewards, mask)  # (B, T), {name: (B, ...)}
        else:
            with self.accelerator.autocast():
                values = critic_values(self.critic, prompt_ids, prompt_mask, completion_ids, completion_mask,
                                       batch_size=self.args.per_device_train_batch_size)  # (B, T)
        advantages, returns = gae(rewards, values, mask, self.args.gamma, self.args.lam)  # (B, T), (B, T)
        moments = self.accelerator.reduce(masked_moments(advantages, mask), reduction="sum")  # (3,) global
        if self.args.whiten_advantages:
            advantages = whiten(advantages, mask, moments)  # (B, T)
        self._log_rollout_stats(values, returns, mask, kl)
        return Advantages(advantages, {FIELD_OLD_VALUES: values, FIELD_RETURNS: returns, FIELD_VALUE_MASK: mask,
                                       **single_pass})

    def _critic_single_pass(self, output, rewards, mask) -> tuple[torch.Tensor, dict]:
        """The critic's values (B, T), detached, and its clipped value loss back-propagated, chunk by chunk of
        ``per_device_train_batch_size`` rows: the loss each micro-batch's ``value_loss`` would compute (its old
        values are these values, from the same weights), each row weighted by the tokens of the micro-batch TRL
        will put it in. Returns the per-row statistics ``value_loss`` logs, and each row's micro-batch."""
        micro_batches = self.args.steps_per_generation
        micro_batch = self._predicted_micro_batches(mask.size(0), micro_batches)  # (B,)
        weights = micro_batch_row_weights(mask, micro_batch, micro_batches)  # (B,)
        scale = self.args.vf_coef / micro_batches  # as _compute_loss scales the term (accumulation == micro_batches)
        size = self.args.per_device_train_batch_size
        values, stats = [], []
        for start in range(0, mask.size(0), size):
            rows = slice(start, start + size)
            with torch.enable_grad():
                with self.accelerator.autocast():
                    chunk = critic_values(self.critic, output["prompt_ids"][rows], output["prompt_mask"][rows],
                                          output["completion_ids"][rows], output["completion_mask"][rows])  # (b, T)
                old = chunk.detach()  # (b, T)
                returns = gae(rewards[rows], old, mask[rows], self.args.gamma, self.args.lam)[1]  # (b, T)
                per_token, clipped = clipped_value_terms(chunk, old, returns, self.args.cliprange_value)  # (b, T) x2
                row_loss = (per_token * mask[rows]).sum(dim=1) * weights[rows]  # (b,)
                self.accelerator.backward(scale * row_loss.sum())
            values.append(old)
            stats.append(torch.stack([row_loss.detach(), (clipped * mask[rows]).sum(dim=1),
                                      (old * mask[rows]).sum(dim=1), mask[rows].sum(dim=1)], dim=1))  # (b, 4)
        if self._distributed():  # the critic's gradients are final: average them under the policy's loss
            self._pending_critic_mean = start_mean([p for p in self.critic.parameters() if p.requires_grad])
        return torch.cat(values), {FIELD_VALUE_STATS: torch.cat(stats), FIELD_MICRO_BATCH: micro_batch}

    @staticmethod
    def _predicted_micro_batches(rows: int, micro_batches: int) -> torch.Tensor:
        """(rows,) long: the micro-batch TRL's ``_prepare_inputs`` will put each row in. It shuffles the generation
        batch with the next ``torch.randperm`` of the global generator, so draw that permutation and put the
        generator back; ``value_loss`` checks the prediction against the micro-batch it receives."""
        if micro_batches == 1:
            return torch.zeros(rows, dtype=torch.long)  # (rows,)
        state = torch.random.get_rng_state()
        permutation = torch.randperm(rows)  # (rows,)
        torch.random.set_rng_state(state)
        return micro_batch_of_rows(permutation, micro_batches)  # (rows,)

    def _reward_kl(self, output) -> torch.Tensor:
        """(B, T) k1 estimate ``logp_old - logp_ref`` of the sampled tokens."""
        input_ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)  # (B, P+T)
        attention_mask = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)  # (B, P+T)
        length = output["completion_ids"].size(1)
        batch_size = self.args.per_device_train_batch_size
        old = output.get("old_per_token_logps")  # (B, T) or None
        if old is None:
            old = self._get_per_token_logps_and_entropies(self.model, input_ids, attention_mask, length,
                                                          batch_size=batch_size)[0]  # (B, T)
        ref = output.get("ref_per_token_logps")  # (B, T) or None
        if ref is None:
            if self.ref_model is not None:
                ref = self._get_per_token_logps_and_entropies(self.ref_model, input_ids, attention_mask, length,
                                                              batch_size=batch_size)[0]  # (B, T)
            else:  # a PEFT policy: the reference is the "ref" adapter or the base model
                from trl.trainer.utils import use_adapter

                model = self.accelerator.unwrap_model(self.model)
                with use_adapter(model, adapter_name="ref" if "ref" in model.peft_config else None):
                    ref = self._get_per_token_logps_and_entropies(self.model, input_ids, attention_mask, length,
                                                                  batch_size=batch_size)[0]  # (B, T)
        return old - ref  # (B, T)

    def _log_rollout_stats(self, values, returns, mask, kl) -> None:
        local = torch.stack([(values * mask).sum(), (returns * mask).sum(), mask.sum(),
                             (kl * mask).sum() if kl is not None else torch.zeros((), device=mask.device)])  # (4,)
        total = self.accelerator.reduce(local.float(), reduction="sum")  # (4,)
        count = max(float(total[2]), 1.0)
        metrics = self._metrics["train"]
        metrics["critic/values_mean"].append(float(total[0]) / count)
        metrics["critic/returns_mean"].append(float(total[1]) / count)
        if kl is not None:
            metrics["ppo/kl_reward"].append(float(total[3]) / count)

    # -- loss -----------------------------------------------------------------------------------------------------

    def value_loss(self, inputs) -> torch.Tensor:
        """Scalar ``vf_coef *`` clipped value loss of this micro-batch (gradient into the critic only). After a
        single-pass rollout its gradient is already in the critic: the value comes back detached, for the logs."""
        if FIELD_VALUE_STATS in inputs:
            return self._single_pass_value_loss(inputs)
        with self.accelerator.autocast():
            values = critic_values(self.critic, inputs["prompt_ids"], inputs["prompt_mask"],
                                   inputs["completion_ids"], inputs["completion_mask"])  # (B, T)
        mask = inputs[FIELD_VALUE_MASK]  # (B, T)
        loss, clip_fraction = clipped_value_loss(values, inputs[FIELD_OLD_VALUES], inputs[FIELD_RETURNS], mask,
                                                 self.args.cliprange_value)  # (), ()
        metrics = self._metrics["train"]
        metrics["critic/value_loss"].append(loss.detach().item())
        metrics["critic/vf_clipfrac"].append(clip_fraction.item())
        metrics["critic/vpred_mean"].append(masked_mean(values.detach(), mask).item())
        return self.args.vf_coef * loss

    def _single_pass_value_loss(self, inputs) -> torch.Tensor:
        micro_batch = inputs[FIELD_MICRO_BATCH]  # (b,)
        if bool((micro_batch != micro_batch[0]).any()):
            raise RuntimeError("critic_single_pass: TRL split the generation batch into micro-batches other than "
                               "the ones the critic's value loss was weighted for (something drew from torch's "
                               "random generator between the advantages and TRL's shuffle); set "
                               "trainer.critic_single_pass: false")
        loss, clipped, value_sum, tokens = inputs[FIELD_VALUE_STATS].sum(dim=0)  # (4,) -> () x4
        tokens = tokens.clamp(min=1.0)  # ()
        metrics = self._metrics["train"]
        metrics["critic/value_loss"].append(loss.item())
        metrics["critic/vf_clipfrac"].append((clipped / tokens).item())
        metrics["critic/vpred_mean"].append((value_sum / tokens).item())
        return self.args.vf_coef * loss  # () detached

    # -- checkpoints ----------------------------------------------------------------------------------------------

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        super().save_model(output_dir, _internal_call)
        if _internal_call and self.args.should_save:  # checkpoints (Trainer._save_checkpoint calls with True)
            save_critic(self.critic, os.path.join(output_dir or self.args.output_dir, CRITIC_DIR))

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        directory = os.path.join(checkpoint, CRITIC_DIR)
        if os.path.isdir(directory):
            load_critic_weights(self.critic, directory)
        else:
            logger.warning("checkpoint %s has no %s/ directory: the critic starts fresh", checkpoint, CRITIC_DIR)
