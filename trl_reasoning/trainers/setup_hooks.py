"""The setup hooks every trl-reasoning trainer fires the same way: ``auxiliary_models`` and ``param_groups``.

Shared by ``ReasoningGRPOTrainer`` (and so PPO) and ``ReasoningSFTTrainer`` (and so TrRa's distillation), which
subclass different TRL trainers.
"""

from __future__ import annotations

import torch


def collect_auxiliary_models(trainer) -> dict[str, torch.nn.Module]:
    """Call ``auxiliary_models``; move each module to the trainer's device and prepare frozen ones for inference."""
    found = {}
    for result in trainer.pm.hook.auxiliary_models(trainer=trainer):
        for name, module in (result or {}).items():
            if name in found:
                raise ValueError(f"two plugins register an auxiliary model named {name!r}")
            trainable = any(p.requires_grad for p in module.parameters())
            module = module.to(trainer.accelerator.device)
            if not trainable:
                module = trainer.accelerator.prepare_model(module, evaluation_mode=True)
            found[name] = module
    return found


def add_plugin_param_groups(trainer, optimizer) -> None:
    """Add the ``param_groups`` plugins return to ``optimizer``, with the run's lr and weight decay as defaults."""
    groups = [g for result in trainer.pm.hook.param_groups(trainer=trainer, model=trainer.model) for g in (result or [])]
    for group in groups:
        group.setdefault("lr", trainer.args.learning_rate)
        group.setdefault("weight_decay", trainer.args.weight_decay)
        optimizer.add_param_group(group)
