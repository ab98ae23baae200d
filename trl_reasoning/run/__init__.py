"""Running a recipe: validate everything first, then load, train, evaluate, report.

::

    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import run_recipe
    results = run_recipe(load_recipe("recipes/quickstart.yaml", ["trainer.max_steps=2"]), output_dir="runs/qs")

Everything a recipe can get wrong (keys, types, ranges, plugin names and configs, how plugins compose, reward names
and config keys, trainer fields) is checked by ``prepare`` before any model is loaded, all at once, so a typo
costs a second, not a model load (``trl-reason validate RECIPE`` runs only that).

One module per job:

* ``validate``: the checks (trainer fields and relations, data options, remote code, rewards, vLLM);
* ``prepare``: ``prepare``, which runs them all and collects every problem; ``preflight``: prepare and the checks
  that need the trainer's config (TRL's, the plugins' ``validate_run``, vLLM);
* ``build``: the trainer config, the rewards, the trainer (the one place a run loads its model and data; SFT-shaped
  trainers through ``build_sft``);
* ``stages``: ``run_stages`` (stage plan, overrides, a fresh optimizer at a boundary);
* ``resume``: which checkpoint ``--resume`` means; ``provenance``: ``provenance.json``;
* ``evaluation``: held-out evaluation during a run; ``notices``: start-up lines;
* ``train``: ``run_recipe``, end to end; ``launch``: several processes (torchrun / accelerate).
"""

from __future__ import annotations

from trl_reasoning.run.build import build_config, build_rewards, build_trainer, run_callbacks
from trl_reasoning.run.notices import importance_sampling_line
from trl_reasoning.run.preflight import preflight
from trl_reasoning.run.prepare import RUN_DEFAULTS, PreparedRun, plugin_manager, prepare
from trl_reasoning.run.provenance import provenance
from trl_reasoning.run.resume import resolve_resume, trained_steps
from trl_reasoning.run.stages import STAGE_KEYS, stage_overrides, stage_plan
from trl_reasoning.run.train import finish_lifecycle, run_recipe
from trl_reasoning.run.validate import (ALLOW_IMPORTS_ENV, TRUST_REMOTE_CODE_ENV, allowed_import_prefixes,
                                        check_data_options, check_remote_code, check_reward_config,
                                        check_trainer_relations, check_vllm_available, resolve_reward)

# The old private name, still reached by tests/lifecycle/test_push.py (H1: use finish_lifecycle).
_finish_lifecycle = finish_lifecycle

__all__ = ["ALLOW_IMPORTS_ENV", "RUN_DEFAULTS", "STAGE_KEYS", "TRUST_REMOTE_CODE_ENV", "PreparedRun",
           "allowed_import_prefixes", "build_config", "build_rewards", "build_trainer", "check_data_options",
           "check_remote_code", "check_reward_config", "check_trainer_relations", "check_vllm_available",
           "finish_lifecycle", "importance_sampling_line", "plugin_manager", "preflight", "prepare", "provenance",
           "resolve_resume", "resolve_reward", "run_callbacks", "run_recipe", "stage_overrides", "stage_plan",
           "trained_steps"]
