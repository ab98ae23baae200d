"""The core's own plugin: the ``grpo`` and ``sft`` trainers and the ``boxed_integer`` reward, registered like any
plugin's. ``PluginManager.install_core()`` installs it by dotted name (``trl_reasoning.trainers.builtin``)."""

from __future__ import annotations

from trl_reasoning.hookspecs import hookimpl
from trl_reasoning.rewards.boxed_integer import BoxedIntegerReward


@hookimpl
def register_trainers(register):
    # heavy (torch, transformers, trl): imported when a registry is first asked for, not at plugin discovery
    from trl_reasoning.trainers.grpo import ReasoningGRPOConfig, ReasoningGRPOTrainer
    from trl_reasoning.trainers.sft import ReasoningSFTConfig, ReasoningSFTTrainer

    register("grpo", ReasoningGRPOTrainer, ReasoningGRPOConfig)
    register("sft", ReasoningSFTTrainer, ReasoningSFTConfig)


@hookimpl
def register_rewards(register):
    register("boxed_integer", BoxedIntegerReward)
