"""``trainer.algorithm: distill``: TrRa on fixed sequences, TRL's ``SFTTrainer`` with a distillation loss.

``TrRaDistillTrainer`` subclasses trl-reasoning's ``ReasoningSFTTrainer`` (itself ``trl.SFTTrainer``) and overrides
one method, ``compute_loss``: the loss is the per-token KL from the lambda-fused teacher to the student on the
completion tokens of each prompt/completion pair (teacher forcing, no sampling), plus ``sft_coef`` times TRL's
negative log-likelihood. The teachers (reference and aligned model) and lambda come from the ``trra`` plugin,
which the recipe must activate::

    trainer: {algorithm: distill, learning_rate: 2.0e-5, max_steps: 200}
    plugins: {trra: {aligned_model: agentica-org/DeepScaleR-1.5B-Preview, realign_lambda: 2.0}}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from trl_reasoning import ConfigError, ReasoningSFTConfig, ReasoningSFTTrainer

from .loss import distillation_kl


@dataclass
class TrRaDistillConfig(ReasoningSFTConfig):
    """``ReasoningSFTConfig``: the TrRa settings live in the ``trra`` plugin's config."""


class TrRaDistillTrainer(ReasoningSFTTrainer):
    """Distil the student toward ``lambda * aligned + (1 - lambda) * reference`` logits on fixed sequences."""

    config_class = TrRaDistillConfig
    # trra's own `loss_terms` is its form beside GRPO; here compute_loss computes that KL itself. Any other
    # plugin's loss_terms is refused in _configure (this trainer does not call the hook).
    calls_hooks = ReasoningSFTTrainer.calls_hooks | {"loss_terms"}

    def __init__(self, *args, plugin_manager=None, **kwargs):
        if plugin_manager is None or "trra" not in plugin_manager.active:
            raise ConfigError("plugins.trra", "trainer.algorithm: distill needs the trra plugin active, e.g. "
                                              "`plugins: {trra: {aligned_model: <model>, realign_lambda: 2.0}}`")
        self.trra = plugin_manager.active["trra"]
        super().__init__(*args, plugin_manager=plugin_manager, **kwargs)

    def _configure(self) -> None:
        super()._configure()
        others = [name for name, plugin in self.pm.active.items()
                  if plugin is not self.trra and callable(getattr(plugin, "loss_terms", None))
                  and not name.startswith("core:")]
        if others:
            raise ConfigError(f"plugins.{others[0]}", f"{', '.join(map(repr, others))} add(s) loss terms through "
                              "`loss_terms`, which the distill trainer never calls (its loss is TrRa's KL on fixed "
                              "sequences); use trainer.algorithm: grpo, or drop them")

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        if "attention_mask" not in inputs:
            raise ValueError("distill needs an attention_mask in each batch: turn padding_free off")
        labels = inputs["labels"]  # (B, L)
        predict = torch.zeros_like(labels, dtype=torch.bool)  # (B, L)
        predict[:, :-1] = labels[:, 1:] != -100  # position t predicts token t + 1
        config = self.trra.config
        kl_sum, n_tokens = distillation_kl(
            model, self.auxiliary["trra_reference"], self.auxiliary["trra_aligned"], inputs["input_ids"],
            inputs["attention_mask"], predict, config.realign_lambda, config.temperature, config.chunk_size)
        denominator = num_items_in_batch if num_items_in_batch is not None else max(n_tokens, 1)
        loss = kl_sum / torch.as_tensor(denominator).clamp(min=1)
        if config.sft_coef:
            out = model(**inputs, fused_lm_head=True)  # TRL's chunked log-probs on the label positions
            loss = loss + config.sft_coef * (-out.log_probs).sum() / torch.as_tensor(denominator).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # like SFTTrainer: DDP averages the gradients
        kl_mean = self.accelerator.gather_for_metrics(kl_sum.detach().reshape(1)).sum()
        count = self.accelerator.gather_for_metrics(torch.tensor([n_tokens], device=kl_sum.device)).sum()
        self._metrics[mode]["trra/kl"].append((kl_mean / count.clamp(min=1)).item())
        self._metrics[mode]["trra/tokens"].append(count.item())
        return (loss, None) if return_outputs else loss
