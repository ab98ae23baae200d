"""Contract test: the TRL methods our trainers override keep the signatures we wrote against, for both trainer bases
(``GRPOTrainer``: grpo, ppo; ``SFTTrainer``: sft, distill), and every TRL/transformers import of the code resolves.

A TRL upgrade that changes one of them fails here instead of failing a user's run. When it fails, read the new
TRL code, adapt ``trl_reasoning/trainers/`` (or the plugin), then update the pinned signature below.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest
import trl
from trl import GRPOTrainer, SFTTrainer

from trl_reasoning import ReasoningGRPOTrainer, ReasoningSFTTrainer
from trl_reasoning.plugins.manager import PluginManager

ROOT = Path(__file__).resolve().parents[2]

# Parameter names, in order, of each TRL method our trainers override, per TRL base class (annotations are not
# compared: their rendering depends on import order, while a renamed, added or removed parameter is what breaks an
# override). An override anywhere in our part of a trainer's MRO counts: the trainer itself, ReasoningTrainerMixin
# (trainers/base.py) and, for a plugin's trainer, the core class it subclasses.
GRPO_PINNED = {
    "__init__": ["self", "model", "reward_funcs", "args", "train_dataset", "eval_dataset", "processing_class",
                 "reward_processing_classes", "callbacks", "optimizers", "quantization_config", "peft_config",
                 "tools", "rollout_func", "environment_factory"],
    "_generate_and_score_completions": ["self", "inputs"],
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    "_compute_loss": ["self", "model", "inputs"],
    "_get_per_token_logps_and_entropies": None,  # leading parameters checked below
    "_save_checkpoint": ["self", "model", "trial"],
    "_load_optimizer_and_scheduler": ["self", "checkpoint"],
    "_get_train_sampler": ["self", "dataset"],
    "create_optimizer": ["self", "model"],
    "create_scheduler": ["self", "num_training_steps", "optimizer"],  # PPO: the critic's group keeps its own lr
    "save_model": ["self", "output_dir", "_internal_call"],  # PPO: the critic is saved beside the policy
    "_get_output_dir": ["self", "trial"],  # checkpoints are staged, then renamed (trl_reasoning/lifecycle/checkpoints.py)
    "create_model_card": ["self", "model_name", "dataset_name", "tags"],  # ours replaces TRL's (hub.py)
}

SFT_PINNED = {
    "__init__": ["self", "model", "args", "data_collator", "train_dataset", "eval_dataset", "processing_class",
                 "compute_loss_func", "compute_metrics", "callbacks", "optimizers", "optimizer_cls_and_kwargs",
                 "preprocess_logits_for_metrics", "quantization_config", "peft_config", "formatting_func"],
    "create_optimizer": ["self", "model"],
    "_save_checkpoint": ["self", "model", "trial"],
    "_load_optimizer_and_scheduler": ["self", "checkpoint"],
    "_get_output_dir": ["self", "trial"],
    "create_model_card": ["self", "model_name", "dataset_name", "tags"],
    "compute_loss": ["self", "model", "inputs", "return_outputs", "num_items_in_batch"],  # TrRa's distillation loss
}

PINNED = {GRPOTrainer: GRPO_PINNED, SFTTrainer: SFT_PINNED}
LOGPS_PARAMS = ["self", "model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "compute_entropy"]
UPSTREAM = ("trl", "transformers", "accelerate", "peft", "torch", "builtins")


def registered_trainers() -> dict[str, type]:
    """Every trainer a recipe can select: the core's and those of the installed plugins."""
    pm = PluginManager()
    pm.install_core()  # what a composition root does: grpo and sft
    return {name: cls for name, (cls, _) in sorted(pm.trainers().items())}


def trl_base(cls: type) -> type:
    return next(base for base in cls.__mro__ if base in PINNED)


def overridden(cls: type) -> dict[str, str]:
    """``{method: our class that defines it}`` for each method of the TRL base that our part of the MRO redefines."""
    base = trl_base(cls)
    found: dict[str, str] = {}
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in UPSTREAM:
            continue
        for name, value in vars(klass).items():
            if (name == "__init__" or not name.startswith("__")) and hasattr(base, name) and callable(
                    getattr(base, name)) and (callable(value) or isinstance(value, (classmethod, staticmethod))):
                found.setdefault(name, f"{klass.__module__}.{klass.__qualname__}")
    return found


def test_trl_minor_version_is_the_pinned_one():
    assert trl.__version__.startswith("1.16."), f"trl-reasoning is written against TRL 1.16, found {trl.__version__}"


def test_both_trainer_bases_are_covered():
    bases = {name: trl_base(cls).__name__ for name, cls in registered_trainers().items()}
    assert bases["grpo"] == "GRPOTrainer" and bases["sft"] == "SFTTrainer"
    assert "ReasoningTrainerMixin" in [k.__name__ for k in ReasoningGRPOTrainer.__mro__]
    assert "ReasoningTrainerMixin" in [k.__name__ for k in ReasoningSFTTrainer.__mro__]


@pytest.mark.parametrize("algorithm", sorted(registered_trainers()))
def test_overridden_methods_keep_their_signatures(algorithm):
    cls = registered_trainers()[algorithm]
    base = trl_base(cls)
    pinned = PINNED[base]
    found = overridden(cls)
    unpinned = sorted(f"{name} (in {where})" for name, where in found.items() if name not in pinned)
    assert not unpinned, f"{algorithm}: pin the {base.__name__} signature of newly overridden methods: {unpinned}"
    for name in found:
        if pinned[name] is None:
            continue
        actual = list(inspect.signature(getattr(base, name)).parameters)
        assert actual == pinned[name], f"{base.__name__}.{name} changed:\n  pinned {pinned[name]}\n  now    {actual}"


def upstream_imports() -> list[tuple[str, str, str]]:
    """``(module, name or "", where)`` for every import from TRL, transformers, accelerate or peft in the core and
    the built-in plugins (module level and inside functions)."""
    paths = sorted(ROOT.joinpath("trl_reasoning").rglob("*.py"))
    paths += sorted(p for p in ROOT.joinpath("plugins").glob("*/trl_reason_*/**/*.py"))
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                if node.module.split(".")[0] in IMPORTED_UPSTREAM:
                    found += [(node.module, alias.name, where) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(alias.name, "", where) for alias in node.names
                          if alias.name.split(".")[0] in IMPORTED_UPSTREAM]
    return found


IMPORTED_UPSTREAM = ("trl", "transformers", "accelerate", "peft")


def test_every_import_from_trl_and_transformers_resolves():
    """Each ``from trl.trainer.utils import x`` (and the rest) of the core and the built-in plugins, executed: a TRL or
    transformers upgrade that moves or renames a helper we import fails here, not in a user's run. vLLM-only paths
    are skipped when vLLM is absent."""
    imports = upstream_imports()
    assert any(module == "trl.trainer.utils" for module, _, _ in imports)  # the reader finds the known ones
    broken = []
    for module, name, where in imports:
        try:
            imported = importlib.import_module(module)
            if name and name != "*" and not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")  # a submodule
        except ImportError as exc:
            if "vllm" in str(exc).lower() and importlib.util.find_spec("vllm") is None:
                continue
            broken.append(f"{where}: from {module} import {name}: {exc}")
    assert not broken, "\n".join(broken)


def test_logps_and_entropies_leading_parameters():
    params = list(inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).parameters)
    assert params[: len(LOGPS_PARAMS)] == LOGPS_PARAMS


def test_repeat_sampler_keeps_the_arguments_our_sampler_copies():
    """`EpochSeededRepeatSampler.like` rebuilds TRL's train sampler from these arguments."""
    from trl.trainer.utils import RepeatSampler

    assert list(inspect.signature(RepeatSampler.__init__).parameters) == [
        "self", "data_source", "mini_repeat_count", "batch_size", "repeat_count", "shuffle", "seed"]
    assert "return RepeatSampler(" in inspect.getsource(GRPOTrainer._get_train_sampler)


def test_advantages_shape_contract_in_compute_loss():
    """Per-token (B, T) advantages pass through `_compute_loss` unchanged (PPO relies on it)."""
    source = inspect.getsource(GRPOTrainer._compute_loss)
    assert "if advantages.dim() == 1:" in source
    source = inspect.getsource(GRPOTrainer._calculate_rewards)
    assert "rewards_per_func = gather(rewards_per_func)" in source
