"""The core's own plugin: the ``grpo`` and ``sft`` trainers and the ``boxed_integer`` reward, registered like any plugin's."""

from __future__ import annotations

from trl_reasoning.hookspecs import hookimpl


@hookimpl
def register_trainers(register):
    from trl_reasoning.trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    register("grpo", ReasoningGRPOTrainer, ReasoningGRPOConfig)
    from trl_reasoning.trainers.sft import ReasoningSFTConfig, ReasoningSFTTrainer

    register("sft", ReasoningSFTTrainer, ReasoningSFTConfig)


@hookimpl
def register_rewards(register):
    from trl_reasoning.rewards.boxed_integer import BoxedIntegerReward

    register("boxed_integer", BoxedIntegerReward)
