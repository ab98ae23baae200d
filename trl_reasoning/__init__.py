"""trl-reasoning: reinforcement learning with verifiable rewards for LLM math reasoning, on TRL, with plugins.

Write a plugin with ``from trl_reasoning import hookimpl`` (see ``trl_reasoning.hookspecs`` and
``plugins/README.md``); run a recipe with ``trl-reason run recipe.yaml``.
"""

from .hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
