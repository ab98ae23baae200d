"""Build what a prepared recipe trains with: the trainer's config, the rewards and the trainer itself (model,
tokenizer and data loaded here, and only here)."""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path

from trl_reasoning.config.schema import ConfigError
from trl_reasoning.data.training import fingerprint, load_train_dataset
from trl_reasoning.lifecycle.hub import push_checkpoint, write_model_card
from trl_reasoning.models import apply_lora, load_for
from trl_reasoning.run.build_sft import build_sft_trainer, is_sft_trainer
from trl_reasoning.run.prepare import RUN_DEFAULTS, PreparedRun


def build_config(prepared: PreparedRun, output_dir: str, overrides: dict | None = None):
    """The algorithm's TRL config from the recipe's trainer fields, trl-reasoning's defaults and ``overrides``;
    TRL's own ``__post_init__`` checks become ``ConfigError`` at ``trainer``."""
    import torch  # heavy; only for the device defaults

    recipe = prepared.recipe
    values = {**RUN_DEFAULTS, **prepared.trainer_kwargs, **(overrides or {}), "output_dir": output_dir,
              "seed": recipe.seed}
    if not torch.cuda.is_available():
        values.setdefault("use_cpu", True)
        values.setdefault("bf16", False)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            values.setdefault("ddp_backend", "gloo")  # several CPU processes (torchrun) talk over gloo
    try:
        return prepared.config_class(**values)
    except (ValueError, TypeError) as exc:
        raise ConfigError("trainer", str(exc)) from None


def build_rewards(prepared: PreparedRun) -> list:
    """The recipe's rewards (each factory called with its checked ``config``) and those plugins add, each with
    its ``weight``."""
    funcs = []
    for spec, factory in prepared.reward_specs:
        func = factory(**spec.config) if isinstance(factory, type) or spec.config else _maybe_call(factory)
        func.weight = spec.weight
        funcs.append(func)
    for extra in prepared.pm.hook.reward_funcs(recipe=prepared.recipe):
        for func in extra or []:
            if not hasattr(func, "weight"):
                func.weight = 1.0
            funcs.append(func)
    if not funcs:
        raise ConfigError("rewards", "a run needs at least one reward (e.g. `- name: correctness`)")
    return funcs


def _maybe_call(factory):
    """A registered factory is called with no arguments; a plain reward function is used as it is."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return factory
    return factory if "completions" in params else factory()


def run_callbacks(prepared: PreparedRun, output_dir: str, extra_callbacks: list | None = None) -> list:
    """metrics.jsonl, the progress bar, the Hub push after each save (``hub.push: every_save``), then ``extra``."""
    from trl_reasoning.trainers.callbacks import (CheckpointPushCallback, MetricsFileCallback,  # heavy: transformers
                                                  RichProgressCallback)

    recipe = prepared.recipe
    callbacks = [MetricsFileCallback(Path(output_dir) / "metrics.jsonl"), RichProgressCallback()]
    if recipe.hub.push == "every_save" and recipe.hub.repo_id:
        callbacks.append(CheckpointPushCallback(functools.partial(
            push_checkpoint, output_dir=output_dir, repo_id=recipe.hub.repo_id, private=recipe.hub.private,
            recipe=recipe, pm=prepared.pm)))
    return [*callbacks, *(extra_callbacks or [])]


def build_trainer(prepared: PreparedRun, output_dir: str, extra_callbacks: list | None = None,
                  overrides: dict | None = None, fresh_optimizer: bool = False):
    """Load model, data and rewards and build the trainer (no training)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback  # heavy

    recipe = prepared.recipe
    callbacks = run_callbacks(prepared, output_dir, extra_callbacks)
    card_writer = functools.partial(write_model_card, recipe=recipe, pm=prepared.pm)
    if is_sft_trainer(prepared.trainer_class):  # sft, distill: fixed prompt/completion pairs, no rewards
        trainer = build_sft_trainer(prepared, build_config(prepared, output_dir, overrides), callbacks,
                                    card_writer=card_writer, fresh_optimizer=fresh_optimizer)
    elif hasattr(prepared.trainer_class, "from_run"):  # another plugin's trainer that builds itself (hookspecs)
        trainer = prepared.trainer_class.from_run(prepared, output_dir, callbacks)
    else:
        args = build_config(prepared, output_dir, overrides)
        rewards = build_rewards(prepared)
        if args.reward_weights is None:
            args.reward_weights = [float(getattr(f, "weight", 1.0)) for f in rewards]
        dataset = load_train_dataset(recipe.data)
        model, tokenizer = load_for(recipe)
        if recipe.model.lora is not None:
            model = apply_lora(model, recipe.model.lora)
        trainer = prepared.trainer_class(model=model, reward_funcs=rewards, args=args, train_dataset=dataset,
                                         processing_class=tokenizer, callbacks=callbacks, plugin_manager=prepared.pm,
                                         recipe=recipe, data_fingerprint=fingerprint(dataset),
                                         fresh_optimizer=fresh_optimizer, card_writer=card_writer)
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    return trainer
