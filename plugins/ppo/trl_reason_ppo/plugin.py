"""Entry point of the ``ppo`` plugin: registers ``trainer.algorithm: ppo``.

PPO is an algorithm, not a run-time add-on: a recipe selects it with ``trainer.algorithm: ppo`` and sets its fields
(``ReasoningPPOConfig``: critic, GAE, value loss) under ``trainer:``. Its run-time behaviour is a plugin object the
trainer registers itself (``trl_reason_ppo.trainer.PPOHooks``), so naming ``ppo`` under ``plugins:`` adds nothing.
"""

from __future__ import annotations

from trl_reasoning import hookimpl


@hookimpl
def register_trainers(register):
    from .config import ReasoningPPOConfig
    from .trainer import ReasoningPPOTrainer

    register("ppo", ReasoningPPOTrainer, ReasoningPPOConfig)
