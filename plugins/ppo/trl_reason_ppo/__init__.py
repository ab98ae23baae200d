"""PPO with a learned critic and GAE for trl-reasoning (``trainer.algorithm: ppo``). See docs/plugins/ppo.md."""

from .config import ReasoningPPOConfig
from .trainer import ReasoningPPOTrainer

__all__ = ["ReasoningPPOConfig", "ReasoningPPOTrainer"]
