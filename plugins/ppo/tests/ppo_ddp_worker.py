"""Run by ``test_ppo_two_processes`` under ``torchrun --nproc_per_node 2`` (CPU, gloo).

Each rank trains one PPO optimizer step (two micro-batches) in the single-pass and in the two-pass mode and writes
``rank<N>.pt``: the critic's gradients just before the optimizer step (this rank's own) and after
``before_optimizer_step`` averaged them, and whether the single pass had its all-reduce in flight by then.
"""

import sys
from pathlib import Path

import torch
from transformers import TrainerCallback

from trl_reasoning import hookimpl
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import build_trainer, prepare


def first_token_parity(prompts, completions, completion_ids, **kwargs):
    """A reward with variance on a random model: 1 when the first completion token id is odd."""
    return [float(ids[0] % 2) if ids else 0.0 for ids in completion_ids]


@hookimpl
def register_rewards(register):
    register("first_token_parity", first_token_parity)


def critic_grads(trainer) -> dict:
    return {n: p.grad.detach().clone() for n, p in trainer.critic.named_parameters()
            if p.grad is not None and "embed_tokens" not in n}  # the embedding is most of the tiny model's bytes


class LocalGradients(TrainerCallback):
    """Runs before the trainer's own critic callback: the gradients are still this rank's."""

    def __init__(self):
        self.trainer, self.local, self.in_flight = None, None, None

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.local = critic_grads(self.trainer)
        self.in_flight = self.trainer._pending_critic_mean is not None


def one_step(model_path: str, out: str, single_pass: bool) -> dict:
    import trl_reason_ppo.plugin as ppo_plugin

    pm = PluginManager(extra_modules=[("ppo", ppo_plugin), ("ppo_ddp_rewards", sys.modules[__name__])],
                       discover=False)
    name = "single" if single_pass else "two"
    recipe = recipe_from_dict({
        "model": {"name_or_path": model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4}},
        "trainer": {"algorithm": "ppo", "max_steps": 1, "num_generations": 4, "per_device_train_batch_size": 4,
                    "gradient_accumulation_steps": 2, "max_completion_length": 8, "temperature": 1.0,
                    "critic_max_grad_norm": 0.0, "critic_single_pass": single_pass, "use_cpu": True,
                    "ddp_backend": "gloo"},
        "rewards": [{"name": "first_token_parity"}],
        "output_dir": str(Path(out) / name),
    })
    local = LocalGradients()
    trainer = build_trainer(prepare(recipe, pm), str(Path(out) / name), [local])
    local.trainer = trainer
    synced = {}
    before = trainer.before_optimizer_step

    def recording_before_optimizer_step():
        before()
        synced.update(critic_grads(trainer))

    trainer.before_optimizer_step = recording_before_optimizer_step
    trainer.train()
    return {"local": local.local, "synced": synced, "in_flight": local.in_flight,
            "single_pass": trainer.critic_single_pass, "world_size": trainer.accelerator.num_processes,
            "rank": trainer.accelerator.process_index}


def main(model_path: str, out: str) -> None:
    results = {name: one_step(model_path, out, name == "single") for name in ("single", "two")}
    torch.save(results, Path(out) / f"rank{results['single']['rank']}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
