"""Prompt Curriculum Learning (Gao, Kim, Sun, Joachims, Wang, Pang, Tan; arXiv 2510.01135, ICLR 2026).

Each step PCL draws ``k * m`` candidate prompts, predicts each one's pass rate under the current policy with a value
model that reads the prompt alone (no rollouts), and keeps the ``m`` predicted closest to ``tau = 0.5``; the policy
then generates ``n`` completions for each as usual. After scoring, the value model is regressed on each selected
prompt's observed pass rate. No author code is public: every choice below follows the paper's description as
summarised in ``docs/papers/pcl.md`` and is listed in ``docs/plugins/pcl.md``.

::

    plugins:
      pcl: {pool_multiplier: 4, target: 0.5}      # value model: a copy of the policy's starting point + scalar head

Hooks (loop order): ``auxiliary_models`` (build the value model), ``trainer_ready`` (its optimizer),
``select_prompts`` (main process; the core broadcasts), ``on_rewards`` (fit, all ranks, identical data),
``metrics``, ``plugin_state`` / ``load_plugin_state``.

Beside other plugins: the pool is drawn within ``trainer.eligible_rows()`` (FastCuRL's level, with
``compose: {select_prompts: pcl}``) and keyed by the core's ``round``; V predicts on the pool after the
``transform_prompt`` chain (QuestA's hints: the prompts that will be generated) and is fitted on the generated
prompts; "has a learning signal" metrics read ``batch.correct``, never a shaped reward (HAPO).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import hookimpl

# torch, .selection and .value_model are imported where they are used: discovering the plugin (`trl-reason --help`)
# imports nothing heavy.

VALUE_MODEL_NAME = "pcl_value"


class Plugin:
    """PCL's prompt selector and value model (see the module docstring)."""

    @dataclass
    class Config:
        pool_multiplier: int = field(default=4, metadata={
            "help": "k: candidates drawn per selected prompt (pool = k * m). Paper: m, n, k, tau = 512, 16, 4, 0.5 "
                    "'(pool = 2,048 prompts/step)' [docs/papers/pcl.md]."})
        target: float = field(default=0.5, metadata={
            "help": "tau: keep the prompts whose predicted pass rate is closest to it. Paper: 'tau = 0.5 gives the "
                    "best accuracy' [docs/papers/pcl.md]."})
        value_model: Literal["separate", "policy_features"] = field(default="separate", metadata={
            "help": "separate: its own LM backbone + scalar head (the paper's 'second, often same-sized, value "
                    "model'); policy_features: a head on the policy's frozen last hidden state (no second model)."})
        value_model_path: str | None = field(default=None, metadata={
            "help": "Backbone of the separate value model (Hub id, local dir, embedded:...). Default: the policy's "
                    "model.name_or_path. The recipe's test_model switch replaces it."})
        train_backbone: bool = field(default=True, metadata={
            "help": "Train the separate value model's backbone with its head (paper: the value model is trained, "
                    "'doubles the memory footprint'); false trains the head only."})
        learning_rate: float = field(default=1.0e-6, metadata={
            "help": "AdamW learning rate of the value backbone. UNCONFIRMED in the paper; our choice (the policy's "
                    "usual order of magnitude)."})
        head_learning_rate: float = field(default=1.0e-3, metadata={
            "help": "AdamW learning rate of the scalar head (zero-initialised). UNCONFIRMED in the paper; our choice."})
        weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay of the value model."})
        updates_per_step: int = field(default=1, metadata={
            "help": "Value-model optimizer steps per generation round. Paper: 'once per RL step, on the m selected "
                    "prompts' [docs/papers/pcl.md]."})
        batch_size: int = field(default=32, metadata={
            "help": "Prompts per value-model fit micro-batch (forward and backward)."})
        predict_batch_size: int | None = field(default=None, metadata={
            "help": "Prompts per value-model forward when predicting on the pool, length-sorted. Default: the whole "
                    "pool in one forward (k*m prompts, no gradient); set it to bound that forward's memory."})
        max_prompt_tokens: int = field(default=1024, metadata={
            "help": "The value model reads at most this many prompt tokens (truncated on the right)."})
        dtype: Literal["float32", "bfloat16"] = field(default="float32", metadata={
            "help": "Weights dtype of a separate value model. float32 keeps master weights for its own AdamW (which "
                    "DeepSpeed/FSDP never shard) and computes in bf16 when the trainer does (`bf16: true`); "
                    "bfloat16 weights round away most updates at lr 1e-6."})
        seed: int | None = field(default=None, metadata={
            "help": "Seed of the candidate-pool generator (keyed by seed, step and round). Default: the run's seed."})

    def __init__(self, config: Config):
        if config.pool_multiplier < 1:
            raise ValueError(f"plugins.pcl.pool_multiplier must be >= 1, got {config.pool_multiplier}")
        if not 0.0 <= config.target <= 1.0:
            raise ValueError(f"plugins.pcl.target must lie in [0, 1], got {config.target}")
        self.config = config
        self.value: PromptValueModel | None = None
        self.optimizer = None
        self.fits = 0
        self.last: dict[str, float] = {}
        self._id_to_index: dict[int, int] | None = None

    # -- setup --------------------------------------------------------------------------------------------------------

    def build_value_model(self, trainer) -> PromptValueModel:
        from .value_model import PromptValueModel

        cfg = self.config
        if cfg.value_model == "policy_features":
            policy = trainer.accelerator.unwrap_model(trainer.model)
            return PromptValueModel(policy, trainer.processing_class, policy.config.get_text_config().hidden_size,
                                    train_backbone=False, max_prompt_tokens=cfg.max_prompt_tokens,
                                    batch_size=cfg.batch_size, owns_backbone=False,
                                    predict_batch_size=cfg.predict_batch_size)
        from trl_reasoning import load_for

        recipe = getattr(trainer, "recipe", None)
        # the recipe's test model > value_model_path > the policy's model.name_or_path (load_for's rules); a
        # trainer built without a recipe: value_model_path or the policy's own starting point, as given
        spec = cfg.value_model_path or (None if recipe is not None else trainer.model.config._name_or_path)
        backbone, tokenizer = load_for(recipe, "value", spec, dtype=cfg.dtype)
        return PromptValueModel(backbone, tokenizer, backbone.config.get_text_config().hidden_size,
                                train_backbone=cfg.train_backbone, max_prompt_tokens=cfg.max_prompt_tokens,
                                batch_size=cfg.batch_size, predict_batch_size=cfg.predict_batch_size)

    @hookimpl
    def auxiliary_models(self, trainer):
        from trl_reasoning import DTYPE_KEY_ATTR

        self.value = self.build_value_model(trainer)
        setattr(self.value, DTYPE_KEY_ATTR, "plugins.pcl.dtype")  # named by the start-up precision warning
        return {VALUE_MODEL_NAME: self.value}

    @hookimpl
    def trainer_ready(self, trainer):
        import torch

        self.value = trainer.auxiliary.get(VALUE_MODEL_NAME, self.value)
        args = trainer.args
        self.value.autocast_dtype = (torch.bfloat16 if getattr(args, "bf16", False)
                                     else torch.float16 if getattr(args, "fp16", False) else None)
        groups = [{"params": list(self.value.head.parameters()), "lr": self.config.head_learning_rate}]
        if self.value.train_backbone:
            groups.append({"params": [p for p in self.value.backbone.parameters() if p.requires_grad],
                           "lr": self.config.learning_rate})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=self.config.weight_decay)

    # -- selection (main process; the core broadcasts the result) -------------------------------------------------

    def _index_of(self, trainer, row: dict) -> int | None:
        if self._id_to_index is None:
            ids = trainer.train_dataset["prompt_id"] if "prompt_id" in trainer.train_dataset.column_names else None
            self._id_to_index = {int(p): i for i, p in enumerate(ids)} if ids is not None else {}
        return self._id_to_index.get(int(row.get("prompt_id", -1)))

    @staticmethod
    def as_generated(trainer, rows: list[dict], round) -> list[dict]:
        """``rows`` as they will be generated: through every plugin's ``transform_prompt`` (side-effect free)."""
        hooks = getattr(trainer, "hooks", None)
        if hooks is None or not hooks.present("transform_prompt"):
            return rows
        return hooks.transform_prompts([dict(r) for r in rows], round)

    def texts(self, prompts) -> list[str]:
        from .value_model import prompt_text

        return [prompt_text(p, self.value.tokenizer) for p in prompts]

    @staticmethod
    def feature_key(trainer, round) -> tuple | None:
        """What keys the frozen features ``select_prompts`` computed, so ``on_rewards`` fits the head on them
        instead of running the backbone again: the step (the policy is the same from selection to scoring).
        None (recompute) on several processes: only the main process selects, and every rank must fit alike."""
        accelerator = getattr(trainer, "accelerator", None)
        if round is None or (accelerator is not None and accelerator.num_processes > 1):
            return None
        return ("step", round.step)

    @hookimpl
    def select_prompts(self, trainer, rows, num_prompts, round):
        from .selection import draw_pool, fill_to, nearest_to_target

        started = time.perf_counter()
        seed = self.config.seed if self.config.seed is not None else trainer.args.seed
        # 1. Candidate sources narrow first (the candidate_rows chain: FastCuRL's level), 2. PCL draws its pool
        # among them (keyed by step and round: the same on every rank and after a resume), 3. picks.
        eligible = trainer.eligible_rows() if hasattr(trainer, "eligible_rows") else range(len(trainer.train_dataset))
        sampler_ids = [i for i in (self._index_of(trainer, r) for r in rows) if i is not None]
        size = self.config.pool_multiplier * num_prompts
        pool = draw_pool(sampler_ids, eligible, size, seed, round.step, round.round_index)
        by_index = {self._index_of(trainer, r): r for r in rows}
        candidates = [by_index.get(i) or dict(trainer.train_dataset[i]) for i in pool]
        # V predicts on the prompt that will be generated: the transform chain (QuestA's hint) applied to each
        # candidate, as the core will apply it to the chosen rows (which are returned untransformed).
        generated = self.as_generated(trainer, candidates, round)
        values = self.value.predict(self.texts([c["prompt"] for c in generated]),
                                    cache_key=self.feature_key(trainer, round))  # (N,)
        picked = fill_to(nearest_to_target(values, self.config.target, num_prompts), num_prompts)
        chosen = [candidates[i] for i in picked]
        self.last.update({
            "pcl/selection_time_s": time.perf_counter() - started,
            "pcl/pool_size": float(len(pool)),
            "pcl/pool_predicted_mean": float(values.mean()) if len(values) else float("nan"),
            "pcl/selected_predicted_mean": float(values[picked].mean()),
            "pcl/selected_distance": float((values[picked] - self.config.target).abs().mean()),
        })
        return chosen

    # -- value fit (all ranks, identical global data) -------------------------------------------------------------

    @hookimpl
    def on_rewards(self, trainer, batch):
        from .selection import effective_ratio, explained_variance, learning_signal

        G = batch.num_generations
        prompts = [batch.prompts[g * G] for g in range(batch.num_groups)]
        observed = batch.group_pass_rate()  # (num_groups,)
        fit = self.value.fit(self.texts(prompts), observed, self.optimizer, self.config.updates_per_step,
                             cache_key=self.feature_key(trainer, batch.round))
        predicted = fit["predicted"]  # (num_groups,) V before this fit: the values the prompts were picked with
        self.fits += 1
        self.last.update({
            "pcl/predicted_pass_rate": float(predicted.mean()),
            "pcl/observed_pass_rate": float(observed.mean()),
            "pcl/value_mse": fit["loss_before"],
            "pcl/explained_variance": explained_variance(predicted, observed),
            "pcl/effective_ratio": effective_ratio(learning_signal(batch), G),  # `correct`, never a shaped reward
            "pcl/mixed_group_share": float(((observed > 0) & (observed < 1)).float().mean()),
        })

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train":
            return None
        return {k: v for k, v in self.last.items() if not (isinstance(v, float) and math.isnan(v))}

    # -- state ----------------------------------------------------------------------------------------------------

    @hookimpl
    def plugin_state(self, trainer):
        weights = {k: v.detach().cpu() for k, v in self.value.state_dict().items()
                   if self.value.train_backbone or not k.startswith("backbone.")}  # a frozen backbone reloads as is
        return {"value_model": weights, "optimizer": self.optimizer.state_dict(), "fits": self.fits}

    @hookimpl
    def load_plugin_state(self, trainer, state):
        missing, unexpected = self.value.load_state_dict(state["value_model"], strict=False)
        if unexpected or any(not k.startswith("backbone.") or self.value.train_backbone for k in missing):
            raise ValueError(f"pcl: checkpointed value model does not match this run's (missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}); was value_model or train_backbone changed?")
        self.optimizer.load_state_dict(state["optimizer"])
        self.fits = int(state["fits"])  # an older checkpoint's `rounds_at_step` is unused (the round keys the pool)
