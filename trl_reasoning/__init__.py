"""trl-reasoning: reinforcement learning with verifiable rewards for LLM math reasoning, on TRL, with plugins.

Write a plugin with ``from trl_reasoning import hookimpl`` (see ``trl_reasoning.hookspecs`` and
``plugins/README.md``); run a recipe with ``trl-reason run recipe.yaml``.
"""

from trl_reasoning.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "lazy_exports", "__version__"]


def lazy_exports(package: str, exports: dict[str, str]):
    """A module ``__getattr__`` (PEP 562) that imports ``name`` from the submodule ``exports[name]`` on first use, so
    a plugin package can list its public names without importing torch when it is discovered::

        __getattr__ = lazy_exports(__name__, {"ReasoningPPOTrainer": "trainer"})
    """

    def __getattr__(name: str):
        if name in exports:
            import importlib

            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
