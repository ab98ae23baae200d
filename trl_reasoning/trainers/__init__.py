"""Trainers: TRL subclasses, the only place that touches TRL internals.

The names below are imported on first use (PEP 562), so ``trl_reasoning.trainers.builtin`` (the core plugin, which
plugin discovery installs) stays free of torch, transformers and TRL until a trainer is asked for.
"""

from trl_reasoning import lazy_exports

__all__ = ["ReasoningGRPOConfig", "ReasoningGRPOTrainer", "ReasoningSFTConfig", "ReasoningSFTTrainer"]
__getattr__ = lazy_exports(__name__, {"ReasoningGRPOConfig": "grpo", "ReasoningGRPOTrainer": "grpo",
                                      "ReasoningSFTConfig": "sft", "ReasoningSFTTrainer": "sft"})
