"""TrRa, training-time realignment (Zhu, Xie, Zhang, Wang, "Flexible Realignment of Language Models",
arXiv 2506.12704, NeurIPS 2025; code github.com/zwhong714/ReAligner).

A student initialised from the reference model is distilled toward the fused teacher
``lambda * z_aligned + (1 - lambda) * z_reference`` (per position, raw logits) with a forward KL on response
tokens. Two ways to run it:

* ``trainer.algorithm: distill`` (registered here): the paper's setting, teacher forcing on fixed sequences
  (rows with ``problem`` and ``solution``), built on TRL's ``SFTTrainer``;
* beside an RL objective: with ``trainer.algorithm: grpo`` and ``plugins: {trra: {...}}`` the KL on the sampled
  completions is added to GRPO's loss through ``loss_terms`` (weight ``loss_coef``).

Teachers are registered through ``auxiliary_models`` (``trainer.auxiliary["trra_reference"]`` and
``["trra_aligned"]``). Iterative TrRa (the next round's aligned model is the last round's result):
``trl-reason trra iterate RECIPE --rounds N``, or a second recipe naming the first round's ``final`` directory.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from trl_reasoning import ConfigError, hookimpl, load_for


@hookimpl
def register_trainers(register):
    from .trainer import TrRaDistillConfig, TrRaDistillTrainer

    register("distill", TrRaDistillTrainer, TrRaDistillConfig)


@hookimpl
def register_commands(subparsers):
    from .iterate import add_parser

    add_parser(subparsers)


class Plugin:
    @dataclass
    class Config:
        aligned_model: str | None = field(default=None, metadata={
            "help": "The aligned model whose behaviour is amplified (Hub id or directory); required. Paper: "
                    "DeepScaleR-1.5B-Preview with DeepSeek-R1-Distill-Qwen-1.5B as reference (train/TrRa.md). "
                    "For iterative TrRa, the previous round's `final` directory."})
        reference_model: str | None = field(default=None, metadata={
            "help": "The reference model. Default: a frozen copy of the policy as loaded, i.e. the student's "
                    "initialisation ('the student is initialised from the reference model')."})
        realign_lambda: float = field(default=1.5, metadata={
            "help": "lambda in z = lambda*z_aligned + (1-lambda)*z_reference; >1 extrapolates, <0 anti-aligns. "
                    "Code: `pref_beta: 1.5` (examples/train_full/llama3_full_TrRa.yaml); the paper's headline "
                    "setting is lambda = 2."})
        temperature: float = field(default=1.0, metadata={
            "help": "Softmax temperature T of both distributions; the KL is multiplied by T^2. Code: T = 1."})
        loss_coef: float = field(default=1.0, metadata={
            "help": "Weight of the KL when added to another trainer's loss (grpo). Ignored by `distill`, whose "
                    "loss is the KL itself."})
        sft_coef: float = field(default=0.0, metadata={
            "help": "Weight of an extra NLL term on the sequences under `distill`. Code: `pref_ftx`, default 0."})
        chunk_size: int = field(default=1024, metadata={
            "help": "Positions per chunk when projecting the teachers' hidden states to logits (memory only)."})

    def __init__(self, config: Config):
        if not config.aligned_model:
            raise ConfigError("plugins.trra.aligned_model", "TrRa needs the aligned model, e.g. "
                                                            "agentica-org/DeepScaleR-1.5B-Preview or a run's final dir")
        if config.temperature <= 0:
            raise ConfigError("plugins.trra.temperature", f"must be positive, got {config.temperature}")
        if config.chunk_size < 1:
            raise ConfigError("plugins.trra.chunk_size", f"must be at least 1, got {config.chunk_size}")
        self.config = config

    # -- setup ---------------------------------------------------------------------------------------------------

    def _load(self, trainer, spec: str):
        """A frozen teacher in the recipe's dtype (the test model replaces it), without a tokenizer: a teacher
        directory may have none."""
        return load_for(getattr(trainer, "recipe", None), "teacher", spec, with_tokenizer=False)[0]

    @hookimpl
    def auxiliary_models(self, trainer):
        if self.config.reference_model:
            reference = self._load(trainer, self.config.reference_model)
        else:  # the student's starting point, before any update
            reference = copy.deepcopy(trainer.model)
            reference.__dict__.pop("forward", None)  # TRL's fused-head patch closes over the student's forward
        aligned = self._load(trainer, self.config.aligned_model)
        for teacher in (reference, aligned):
            teacher.requires_grad_(False)
            teacher.eval()
        sizes = {name: m.get_output_embeddings().weight.shape[0] for name, m in
                 (("reference", reference), ("aligned", aligned), ("student", trainer.model))}
        if len(set(sizes.values())) != 1:
            raise ConfigError("plugins.trra", f"the models' vocabularies differ ({sizes}); TrRa fuses logits "
                                              "token by token, so all three must share one tokenizer")
        return {"trra_reference": reference, "trra_aligned": aligned}

    # -- beside an RL objective ----------------------------------------------------------------------------------

    @hookimpl
    def loss_terms(self, trainer, model, inputs, ctx):
        import torch

        from .loss import distillation_kl

        prompt_ids, completion_ids = inputs["prompt_ids"], inputs["completion_ids"]  # (B, P), (B, C)
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)  # (B, P + C)
        attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)  # (B, P + C)
        predict = torch.zeros_like(input_ids, dtype=torch.bool)  # (B, P + C)
        P, C = prompt_ids.shape[1], completion_ids.shape[1]
        predict[:, P - 1:P + C - 1] = inputs["completion_mask"].bool()  # position t predicts completion token t+1
        kl_sum, n_tokens = distillation_kl(model, trainer.auxiliary["trra_reference"],
                                           trainer.auxiliary["trra_aligned"], input_ids, attention, predict,
                                           self.config.realign_lambda, self.config.temperature,
                                           self.config.chunk_size)
        return {"trra_kl": self.config.loss_coef * kl_sum / max(n_tokens, 1)}

    @hookimpl
    def model_card_sections(self, recipe, results):
        c = self.config
        return [f"## Realignment (TrRa)\n\nDistilled toward lambda * aligned + (1 - lambda) * reference logits "
                f"(Zhu et al., arXiv 2506.12704) with lambda = {c.realign_lambda}, aligned model "
                f"`{c.aligned_model}`, temperature {c.temperature}."]
