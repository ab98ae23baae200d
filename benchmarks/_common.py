"""Pieces the learning benchmarks share: a log recorder and the recipe's greedy held-out evaluation.

Imported as ``from _common import ...`` by scripts run as ``python benchmarks/<name>.py`` (their folder is first on
``sys.path``).
"""

from __future__ import annotations

from transformers import TrainerCallback


class LogRecorder(TrainerCallback):
    """Keeps every training log line (those with a ``reward``), with its step."""

    def __init__(self):
        self.logs: list[dict] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.logs.append({"step": state.global_step, **logs})


def train_timed(trainer) -> dict:
    """``trainer.train()``; its wall and CPU seconds (``train_wall_s``, ``train_cpu_s``)."""
    import time

    started, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    return {"train_wall_s": round(time.perf_counter() - started, 1),
            "train_cpu_s": round(time.process_time() - cpu, 1)}


def heldout_of(recipe, trainer, correct_lengths: bool = False) -> dict:
    """``heldout`` on the trainer's model, in eval mode and without gradients."""
    import torch

    trainer.model.eval()
    with torch.no_grad():
        return heldout(recipe, trainer.model, trainer.processing_class, correct_lengths=correct_lengths)


def heldout(recipe, model, tokenizer, correct_lengths: bool = False) -> dict:
    """Greedy held-out evaluation as the recipe's ``eval`` section sets it, with three example responses; with
    ``correct_lengths`` also the mean token length of the strictly correct responses and their count."""
    from trl_reasoning.data import load_test_rows
    from trl_reasoning.data.prompts import PromptFormat
    from trl_reasoning.evaluation.training import HeldOutEvaluator
    from trl_reasoning.rewards.boxed_integer import strict_correct

    rows = load_test_rows(recipe.data)[: recipe.eval.limit]
    evaluator = HeldOutEvaluator(rows, template=PromptFormat.from_section(recipe.data),
                                 max_new_tokens=recipe.eval.max_new_tokens, batch_size=recipe.eval.batch_size)
    result = evaluator(model, tokenizer)
    if correct_lengths:
        lengths = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in evaluator.last_responses]
        right = [n for n, text, row in zip(lengths, evaluator.last_responses, rows)
                 if strict_correct(text, row["answer"])]
        result["mean_correct_length"] = sum(right) / len(right) if right else None
        result["num_correct"] = len(right)
    result["examples"] = evaluator.last_responses[:3]
    return result


def pcl_value_models(policy, tokenizer, model: str, max_prompt_tokens: int):
    """PCL's two value models beside a loaded ``policy``, each with its AdamW (head 1e-3, backbone 1e-6): a separate
    trained copy of the model (``train_backbone``) and a head on the policy's own frozen features
    (``value_model: policy_features``). Returns ``(trained, trained_optimizer, frozen, frozen_optimizer)``."""
    import torch
    from transformers import AutoModel
    from trl_reason_pcl.value_model import PromptValueModel

    from trl_reasoning.models import resolve_model_path

    backbone = AutoModel.from_pretrained(resolve_model_path(model), dtype=torch.float32)
    trained = PromptValueModel(backbone, tokenizer, backbone.config.hidden_size, train_backbone=True,
                               max_prompt_tokens=max_prompt_tokens, batch_size=32)
    trained_optimizer = torch.optim.AdamW([{"params": list(trained.head.parameters()), "lr": 1e-3},
                                           {"params": list(trained.backbone.parameters()), "lr": 1e-6}])
    frozen = PromptValueModel(policy, tokenizer, policy.config.hidden_size, train_backbone=False,
                              max_prompt_tokens=max_prompt_tokens, batch_size=32, owns_backbone=False)
    frozen_optimizer = torch.optim.AdamW(frozen.head.parameters(), lr=1e-3)
    return trained, trained_optimizer, frozen, frozen_optimizer
