"""Trainers: TRL subclasses, the only place that touches TRL internals."""

from .grpo import ReasoningGRPOConfig, ReasoningGRPOTrainer

__all__ = ["ReasoningGRPOConfig", "ReasoningGRPOTrainer"]
