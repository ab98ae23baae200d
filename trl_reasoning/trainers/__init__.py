"""Trainers: TRL subclasses, the only place that touches TRL internals."""

from trl_reasoning.trainers.grpo import ReasoningGRPOConfig, ReasoningGRPOTrainer

__all__ = ["ReasoningGRPOConfig", "ReasoningGRPOTrainer"]
