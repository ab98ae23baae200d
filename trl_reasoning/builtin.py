"""The core's own plugin: the ``grpo`` trainer and the ``boxed_integer`` reward, registered like any plugin's."""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    from .trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    register("grpo", ReasoningGRPOTrainer, ReasoningGRPOConfig)


@hookimpl
def register_rewards(register):
    from .rewards import BoxedIntegerReward

    register("boxed_integer", BoxedIntegerReward)
