"""The core's own plugin: the ``grpo`` and ``sft`` trainers and the ``boxed_integer`` reward, registered like any plugin's."""

from __future__ import annotations

from .hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    from .trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    register("grpo", ReasoningGRPOTrainer, ReasoningGRPOConfig)
    from .trainers.sft import ReasoningSFTConfig, ReasoningSFTTrainer

    register("sft", ReasoningSFTTrainer, ReasoningSFTConfig)


@hookimpl
def register_rewards(register):
    from .rewards import BoxedIntegerReward

    register("boxed_integer", BoxedIntegerReward)
