"""The trainer base every trl-reasoning trainer shares: the setup hooks (``auxiliary_models``, ``param_groups``)
and ``ReasoningTrainerMixin`` (plugin state, atomic checkpoints with metadata, resume checks, the model card).

Shared by ``ReasoningGRPOTrainer`` (and so PPO) and ``ReasoningSFTTrainer`` (and so TrRa's distillation), which
subclass different TRL trainers.
"""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger("trl_reasoning")


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


class ReasoningTrainerMixin:
    """What every trl-reasoning trainer shares, whatever TRL trainer it extends (put it first in the bases):
    plugin parameter groups, plugin state, atomic checkpoints with metadata, resume checks and the model card.
    The subclass sets ``pm`` and ``recipe`` before TRL's ``__init__`` runs."""

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        add_plugin_param_groups(self, optimizer)
        return optimizer

    # -- checkpoints --------------------------------------------------------------------------------------------------

    def plugin_states(self) -> dict:
        return self.pm.call_each("plugin_state", trainer=self)

    def load_plugin_states(self, states: dict) -> None:
        for name, state in states.items():
            if name not in self.pm.active:
                logger.warning("checkpoint holds state of plugin %r, which this run does not activate", name)
                continue
            self.pm.call_one(name, "load_plugin_state", trainer=self, state=state)

    def _get_output_dir(self, trial):
        run_dir = super()._get_output_dir(trial)
        if getattr(self, "_staging_checkpoint", False):
            from trl_reasoning.lifecycle.checkpoints import staging_root

            return staging_root(run_dir)  # TRL writes checkpoint-N here first; _save_checkpoint renames it
        return run_dir

    def _save_checkpoint(self, model, trial):
        """TRL's save into a staging directory, then plugin state and our metadata, then an atomic rename to
        ``checkpoint-<step>`` (see ``trl_reasoning/lifecycle/checkpoints.py``)."""
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

        from trl_reasoning.lifecycle import checkpoints

        run_dir = self._get_output_dir(trial=trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staged = os.path.join(checkpoints.staging_root(run_dir), name)
        final = os.path.join(run_dir, name)
        if self.args.should_save:
            checkpoints.clear_staging(run_dir)  # leftovers of a save that was killed
        self.accelerator.wait_for_everyone()
        self._staging_checkpoint = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_checkpoint = False
        states = self.plugin_states()
        digest = checkpoints.state_digest(states)
        if self.accelerator.num_processes > 1:
            from accelerate.utils import gather_object

            digests = gather_object([digest])
            if len(set(digests)) > 1:
                logger.warning("plugin state differs between ranks at step %d (digests %s): a plugin's state "
                               "update is not deterministic across processes; rank 0's state is saved",
                               self.state.global_step, digests)
        if self.args.should_save:
            os.makedirs(staged, exist_ok=True)
            checkpoints.write_plugin_state(staged, states)
            if self.state.best_model_checkpoint and self.state.best_model_checkpoint.startswith(
                    checkpoints.staging_root(run_dir)):
                from transformers.trainer import TRAINER_STATE_NAME

                self.state.best_model_checkpoint = os.path.join(run_dir,
                                                                os.path.basename(self.state.best_model_checkpoint))
                self.state.save_to_json(os.path.join(staged, TRAINER_STATE_NAME))
            checkpoints.write_meta(staged, checkpoints.build_meta(
                global_step=self.state.global_step, data_fingerprint=getattr(self, "data_fingerprint", None),
                recipe=self.recipe.to_dict() if self.recipe is not None else None,
                world_size=self.accelerator.num_processes,
                gradient_accumulation_steps=self.args.gradient_accumulation_steps,
                steps_per_generation=self.args.steps_per_generation, num_iterations=self.num_iterations,
                plugin_names=list(states), plugin_state_sha256=digest))
        self.accelerator.wait_for_everyone()  # every rank's RNG file is in place
        if self.args.should_save:
            checkpoints.commit(staged, final)
            rotate_checkpoints(output_dir=run_dir, save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)
            hub = getattr(self.recipe, "hub", None)
            if hub is not None and hub.push == "every_save" and hub.repo_id and self.is_world_process_zero():
                from trl_reasoning.lifecycle.hub import push_checkpoint

                push_checkpoint(final, self.args.output_dir, hub.repo_id, private=hub.private, recipe=self.recipe,
                                pm=self.pm)
        self.accelerator.wait_for_everyone()

    def _load_optimizer_and_scheduler(self, checkpoint):
        """Also: check the checkpoint came from this run, restore plugin state, and put TRL's micro-step counter
        where the uninterrupted run would have it (so a resume inside a generation block keeps the data order).
        With ``fresh_optimizer`` set (``run_stages``' key, at a stage boundary) the optimizer and LR scheduler stay
        new."""
        if not getattr(self, "fresh_optimizer", False):
            super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        from trl_reasoning.lifecycle import checkpoints

        checkpoints.check_resume(checkpoint, data_fingerprint=getattr(self, "data_fingerprint", None),
                                 recipe=self.recipe.to_dict() if self.recipe is not None else None,
                                 world_size=self.accelerator.num_processes)
        states = checkpoints.read_plugin_state(checkpoint)
        if states is not None:
            self.load_plugin_states(states)
        if not self.args.ignore_data_skip:  # with ignore_data_skip the sampler restarts, and so does the phase
            self._step = self.state.global_step * self.args.gradient_accumulation_steps

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        """trl-reasoning's model card (``hub.py``) in place of TRL's, which TRL writes to the output dir at every
        save."""
        if self.recipe is None:
            return super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags)
        if self.is_world_process_zero():
            from trl_reasoning.lifecycle.hub import write_model_card

            write_model_card(self.args.output_dir, recipe=self.recipe, pm=self.pm)

