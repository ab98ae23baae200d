"""``ReasoningPPOConfig``: ``ReasoningGRPOConfig`` plus the critic, GAE and value-loss fields.

Defaults are verl's (the framework 1-shot RLVR forks), from ``verl/trainer/config/ppo_trainer.yaml`` as shipped in the
One-Shot-RLVR code: ``critic.optim.lr: 1e-5``, ``warmup_style: constant``, ``lr_warmup_steps_ratio: 0.``,
``critic.grad_clip: 1.0``, ``critic.cliprange_value: 0.5``, ``algorithm.gamma: 1.0``, ``algorithm.lam: 1.0``,
``trainer.critic_warmup: 0``. PPO's epochs and mini-batches are TRL's ``num_iterations`` and
``steps_per_generation``; the policy's clipping is TRL's ``epsilon`` (verl ``clip_ratio: 0.2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import ReasoningGRPOConfig

# Loss settings whose maths assume one advantage sign per sequence, which per-token GAE advantages break.
SEQUENCE_LEVEL_LOSSES = ("vespo",)
CRITIC_DTYPES = ("float32", "bfloat16", "float16", "policy")


@dataclass
class ReasoningPPOConfig(ReasoningGRPOConfig):
    """PPO with a learned critic on the GRPO pipeline. ``num_generations: 1`` gives classic PPO."""

    critic_model_name_or_path: str | None = field(default=None, metadata={
        "help": "Where the critic (a token-classification model with one output per token) starts: a Hub id, a "
                "local directory (a causal LM gets a fresh scalar head; a saved critic keeps its head) or "
                "`embedded:smollm2-135m`. Default: the policy's own weights with a fresh head (verl's examples "
                "set `critic.model.path` to the actor's path). `test_model` replaces it too."})
    critic_learning_rate: float = field(default=1.0e-5, metadata={
        "help": "Critic learning rate (verl `critic.optim.lr: 1e-5`). The critic is a separate parameter group "
                "of the trainer's optimizer."})
    critic_weight_decay: float = field(default=0.01, metadata={
        "help": "Critic AdamW weight decay, on weights only (verl builds the critic's AdamW with weight_decay "
                "1e-2 in `fsdp_workers.py`)."})
    critic_lr_scheduler_type: str = field(default="constant", metadata={
        "help": "The critic's learning-rate schedule: a transformers scheduler name (constant, "
                "constant_with_warmup, linear, cosine) or `policy` to follow the policy's schedule "
                "(verl `critic.optim.warmup_style: constant`)."})
    critic_warmup_ratio: float = field(default=0.0, metadata={
        "help": "Share of the training steps over which the critic's learning rate warms up "
                "(verl `critic.optim.lr_warmup_steps_ratio: 0.`)."})
    critic_max_grad_norm: float = field(default=1.0, metadata={
        "help": "Clip the critic's gradient norm to this, separately from the policy's `max_grad_norm` "
                "(verl `critic.grad_clip: 1.0`); 0 turns it off."})
    critic_warmup_steps: int = field(default=0, metadata={
        "help": "Optimizer steps at the start during which only the critic learns; the policy's gradients are "
                "dropped (verl `trainer.critic_warmup: 0`)."})
    critic_dtype: Literal["float32", "bfloat16", "float16", "policy"] = field(default="float32", metadata={
        "help": "Weights dtype of the critic: float32 (default; verl loads its critic in fp32, `model_dtype: fp32`) "
                "keeps fp32 master weights and computes in bf16 under `bf16: true`; bfloat16 weights lose most "
                "small AdamW updates (PPO runs without DeepSpeed/FSDP, which would keep masters). `policy` uses the "
                "policy's dtype."})
    critic_lora_r: int = field(default=0, metadata={
        "help": "Train the critic as a LoRA adapter of this rank (its value head fully); 0 trains all weights."})
    critic_lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha of the critic's adapter."})
    critic_lora_target_modules: list[str] | str = field(default="all-linear", metadata={
        "help": "Modules of the critic that get LoRA adapters."})
    vf_coef: float = field(default=1.0, metadata={
        "help": "Weight of the value loss. The critic's parameters are disjoint from the policy's, so this only "
                "scales the critic's gradients (verl trains the critic with its own optimizer: 1.0 matches it)."})
    cliprange_value: float | None = field(default=0.5, metadata={
        "help": "Value clipping: the critic's prediction may move at most this far from the value recorded at "
                "generation time (verl `critic.cliprange_value: 0.5`); null turns clipping off."})
    gamma: float = field(default=1.0, metadata={
        "help": "GAE discount (verl `algorithm.gamma: 1.0`, as used for RLVR)."})
    lam: float = field(default=1.0, metadata={
        "help": "GAE lambda (verl `algorithm.lam: 1.0`, as used for RLVR)."})
    whiten_advantages: bool = field(default=True, metadata={
        "help": "Whiten the advantages (masked mean and unbiased std over the global generation batch) before "
                "the policy loss, as verl's `compute_gae_advantage_return` does."})
    critic_single_pass: bool = field(default=True, metadata={
        "help": "When the critic cannot change between generation and its update (num_iterations 1 and one "
                "optimizer step per generation batch, TRL's default), run its value forward once, with gradient, "
                "at generation: the detached values feed GAE and the same forward's clipped value loss is "
                "back-propagated there, instead of a no-grad forward at generation and a second forward in the "
                "loss (which computes the same values from the same weights). Same losses and gradients, one "
                "critic forward less per step. False: always the two-pass computation."})
    kl_reward_coef: float = field(default=0.0, metadata={
        "help": "KL penalty in the reward: subtract coef * (logp - ref_logp) (k1) from every token's reward. "
                "verl applies `algorithm.kl_ctrl.kl_coef: 0.001` this way when `use_kl_loss` is off. The KL "
                "*loss* (k3, as GRPO) is TRL's `beta`; both may be used."})

    def __post_init__(self):
        if self.gamma < 0 or self.gamma > 1 or self.lam < 0 or self.lam > 1:
            raise ValueError(f"gamma ({self.gamma}) and lam ({self.lam}) must lie in [0, 1]")
        if self.cliprange_value is not None and self.cliprange_value <= 0:
            raise ValueError(f"cliprange_value must be > 0 or null (no clipping), got {self.cliprange_value}")
        if self.kl_reward_coef < 0:
            raise ValueError(f"kl_reward_coef must be >= 0, got {self.kl_reward_coef}")
        if self.critic_dtype not in CRITIC_DTYPES:
            raise ValueError(f"critic_dtype must be one of {', '.join(CRITIC_DTYPES)}, got {self.critic_dtype!r}")
        if self.critic_warmup_steps < 0:
            raise ValueError(f"critic_warmup_steps must be >= 0, got {self.critic_warmup_steps}")
        if self.loss_type in SEQUENCE_LEVEL_LOSSES:
            raise ValueError(f"loss_type={self.loss_type!r} assumes one advantage per sequence; PPO's advantages "
                             "are per token. Use dapo, grpo, bnpo, dr_grpo or cispo.")
        if self.off_policy_mask_threshold is not None:
            raise ValueError("off_policy_mask_threshold assumes one advantage sign per sequence; PPO's advantages "
                             "are per token. Leave it unset.")
        if getattr(self, "group_filter_max_rounds", 0):
            raise ValueError("group_filter_max_rounds (dynamic-sampling refill) is not supported with PPO: the "
                             "critic's values are computed once per generation batch. Leave it at 0.")
        classic = self.num_generations == 1
        if classic:
            # GRPOConfig rejects num_generations < 2 (it needs a group for its baseline). PPO's baseline is the
            # critic, so one completion per prompt is fine: pass GRPO's checks with a group size that divides any
            # generation batch (this process's share of it), then restore 1.
            spg = self.steps_per_generation or self.gradient_accumulation_steps
            local_generation_batch = self.per_device_train_batch_size * spg
            if self.generation_batch_size is not None:
                local_generation_batch = self.generation_batch_size
            if local_generation_batch < 2:
                raise ValueError("classic PPO (num_generations=1) needs at least 2 completions per generation batch "
                                 "(advantages are whitened over it): raise per_device_train_batch_size")
            self.num_generations = local_generation_batch
        try:
            super().__post_init__()
        finally:
            if classic:
                self.num_generations = 1
        if self.num_generations_eval is None and classic:
            self.num_generations_eval = 1
