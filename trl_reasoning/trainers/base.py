"""The trainer base every trl-reasoning trainer shares, whatever TRL trainer it extends.

``ReasoningTrainerMixin`` (put it first in the bases: ``class T(ReasoningTrainerMixin, SFTTrainer)``) owns:

* the hook wiring of ``__init__``: ``modify_model`` (before TRL builds anything from the model), TRL's own
  ``__init__``, the subclass's ``_configure()``, ``auxiliary_models`` (``trainer.auxiliary[name]``), the
  ``HookCallback`` (first among the callbacks, so the plugin metrics it merges reach every logger) and
  ``trainer_ready``;
* ``hook_present(name)``: whether an active plugin implements a hook (what callbacks and the step code test), and
  ``trainer.hooks`` (``plugins.hooks.RunHooks``), the typed calls of the hooks;
* ``create_optimizer``: the plugins' ``param_groups``;
* ``plugin_states`` / ``load_plugin_states``: the ``plugin_state`` / ``load_plugin_state`` hooks;
* ``_get_output_dir``, ``_save_checkpoint`` and ``_load_optimizer_and_scheduler``: checkpoints that are whole or
  absent (staging directory, metadata written last, atomic rename) and resume checks
  (``trl_reasoning/lifecycle/checkpoints.py``);
* ``create_model_card``: the injected ``card_writer`` in place of TRL's card.

Shared by ``ReasoningGRPOTrainer`` (and so PPO) and ``ReasoningSFTTrainer`` (and so TrRa's ``distill``). The
constructor takes, besides TRL's arguments, ``plugin_manager``, ``recipe``, ``data_fingerprint`` (checked on
resume), ``fresh_optimizer`` (resume the weights but keep a new optimizer and LR scheduler: a stage boundary) and
``card_writer`` (``card_writer(output_dir)`` writes the model card; ``trl_reasoning.run`` passes
``lifecycle.hub.write_model_card``). Hub pushes per save are a callback the caller adds
(``trainers.callbacks.CheckpointPushCallback``): the trainers import nothing from ``run`` or ``lifecycle.hub``.
"""

from __future__ import annotations

import logging
import os
from typing import Callable

import torch
from accelerate.utils import gather_object
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.plugins.hooks import RunHooks
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.trainers.callbacks import HookCallback

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
    """What every trl-reasoning trainer shares (see the module docstring). A subclass puts its own setup that needs
    TRL's initialised trainer, and must come before ``auxiliary_models`` and ``trainer_ready``, in ``_configure``."""

    def __init__(self, *args, plugin_manager: PluginManager | None = None, recipe=None,
                 data_fingerprint: str | None = None, fresh_optimizer: bool = False,
                 card_writer: Callable[[str], None] | None = None, **kwargs):
        # without one (TRL-style direct construction): the core plugin only, so the trainer is a drop-in TRL trainer
        self.pm = plugin_manager if plugin_manager is not None else PluginManager(discover=False)
        self.recipe = recipe
        self.data_fingerprint = data_fingerprint
        self.fresh_optimizer = fresh_optimizer
        self.card_writer = card_writer
        self.auxiliary: dict[str, torch.nn.Module] = {}
        self._init_hooks(args, kwargs)

    def _init_hooks(self, args: tuple, kwargs: dict) -> None:
        """``modify_model`` -> TRL's ``__init__`` -> ``_configure`` -> ``auxiliary_models`` -> ``HookCallback`` ->
        ``trainer_ready``."""
        model = kwargs.get("model", args[0] if args else None)
        if model is not None and not isinstance(model, str):
            self.pm.hook.modify_model(model=model, processing_class=kwargs.get("processing_class"), recipe=self.recipe)
        super().__init__(*args, **kwargs)
        self.hooks = RunHooks(self.pm, self)  # the typed calls of every hook (plugins/hooks.py)
        self._configure()
        self.auxiliary.update(collect_auxiliary_models(self))
        # first, so the plugin metrics it merges into each log line reach metrics.jsonl and report_to loggers
        self.callback_handler.callbacks.insert(0, HookCallback(self))
        self.pm.hook.trainer_ready(trainer=self)

    def _configure(self) -> None:
        """The subclass's setup after TRL's ``__init__``, before ``auxiliary_models`` (nothing by default)."""

    def hook_present(self, name: str) -> bool:
        """Whether an active plugin implements the hook ``name`` (and ``compose:`` does not switch it off for it);
        asked live, so a plugin registered after construction counts."""
        try:
            return self.pm.is_implemented(name)  # cached by the manager until its plugins change
        except AttributeError:
            raise ValueError(f"no hook named {name!r} (see trl_reasoning/hookspecs.py)") from None

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        add_plugin_param_groups(self, optimizer)
        return optimizer

    # -- checkpoints --------------------------------------------------------------------------------------------------

    def plugin_states(self) -> dict:
        return self.hooks.states()

    def load_plugin_states(self, states: dict) -> None:
        for name in self.hooks.load_states(states):
            logger.warning("checkpoint holds state of plugin %r, which this run does not activate", name)

    def _get_output_dir(self, trial):
        run_dir = super()._get_output_dir(trial)
        if getattr(self, "_staging_checkpoint", False):
            return checkpoints.staging_root(run_dir)  # TRL writes checkpoint-N here first; _save_checkpoint renames it
        return run_dir

    def _checkpoint_meta(self, states: dict, digest: str) -> dict:
        return checkpoints.build_meta(
            global_step=self.state.global_step, data_fingerprint=getattr(self, "data_fingerprint", None),
            recipe=self.recipe.to_dict() if self.recipe is not None else None,
            world_size=self.accelerator.num_processes,
            gradient_accumulation_steps=self.args.gradient_accumulation_steps,
            steps_per_generation=getattr(self.args, "steps_per_generation", None) or 1,  # GRPO's; 1 for SFT
            num_iterations=getattr(self, "num_iterations", 1), plugin_names=list(states), plugin_state_sha256=digest)

    def _save_checkpoint(self, model, trial):
        """TRL's save into a staging directory, then plugin state and our metadata, then an atomic rename to
        ``checkpoint-<step>`` (see ``trl_reasoning/lifecycle/checkpoints.py``)."""
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
                self.state.best_model_checkpoint = os.path.join(run_dir,
                                                                os.path.basename(self.state.best_model_checkpoint))
                self.state.save_to_json(os.path.join(staged, TRAINER_STATE_NAME))
            checkpoints.write_meta(staged, self._checkpoint_meta(states, digest))
        self.accelerator.wait_for_everyone()  # every rank's RNG file is in place
        if self.args.should_save:
            checkpoints.commit(staged, final)
            rotate_checkpoints(output_dir=run_dir, save_total_limit=self.args.save_total_limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=False)
        self.accelerator.wait_for_everyone()

    def _load_optimizer_and_scheduler(self, checkpoint):
        """Also: check the checkpoint came from this run, restore plugin state, and put GRPO's micro-step counter
        where the uninterrupted run would have it (so a resume inside a generation block keeps the data order).
        With ``fresh_optimizer`` (``run_stages``' key, at a stage boundary) the optimizer and LR scheduler stay
        new."""
        if not getattr(self, "fresh_optimizer", False):
            super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        checkpoints.check_resume(checkpoint, data_fingerprint=getattr(self, "data_fingerprint", None),
                                 recipe=self.recipe.to_dict() if self.recipe is not None else None,
                                 world_size=self.accelerator.num_processes)
        states = checkpoints.read_plugin_state(checkpoint)
        if states is not None:
            self.load_plugin_states(states)
        # GRPOTrainer's generation-block counter (SFTTrainer has none). With ignore_data_skip the sampler
        # restarts, and so does the block.
        if hasattr(self, "_step") and not self.args.ignore_data_skip:
            self._step = self.state.global_step * self.args.gradient_accumulation_steps

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        """``card_writer(output_dir)`` (trl-reasoning's card, injected by ``trl_reasoning.run``) in place of TRL's,
        which TRL writes to the output dir at every save; TRL's without one."""
        writer = getattr(self, "card_writer", None)
        if writer is None:
            return super().create_model_card(model_name=model_name, dataset_name=dataset_name, tags=tags)
        if self.is_world_process_zero():
            writer(self.args.output_dir)
