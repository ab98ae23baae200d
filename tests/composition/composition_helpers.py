"""Shared pieces of the composition matrix: the recipe of a set of members, the observer that records every
generation round and every batch that reaches the loss, and the plugin manager with the built-in plugins only.

``run_members(members, ...)`` builds one two-step recipe on the tiny model from the members' fragments
(``FRAGMENTS``) and runs it; ``validate_members`` stops where ``trl-reason run`` stops before loading a model.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import sys
from pathlib import Path

from trl_reasoning import hookimpl
from trl_reasoning.testing import ParityCorrect

BUILTIN = {"correctness": "trl_reason_correctness.plugin", "fastcurl": "trl_reason_fastcurl.plugin",
           "format_reward": "trl_reason_format_reward.plugin", "hapo": "trl_reason_hapo.plugin",
           "inra": "trl_reason_inra.plugin", "one_shot": "trl_reason_one_shot.plugin", "pcl": "trl_reason_pcl.plugin",
           "ppo": "trl_reason_ppo.plugin", "questa": "trl_reason_questa.plugin", "trra": "trl_reason_trra.plugin"}
EOS_BIAS = {"sequence_bias": [[[2], 7.5]]}  # token 2 ends a completion: lengths (so HAPO's rewards) vary
ONE_SHOT_EXAMPLE = 5
BAND = [0.01, 0.99]
HINT_SCHEDULE = [{"start_step": 0, "fraction": 0.5}, {"start_step": 1, "fraction": 0.25}]


class MostlyParity(ParityCorrect):
    """``ParityCorrect`` (right when the sum of a completion's token ids is even), except that a prompt whose
    ``prompt_id`` is a multiple of 3 is never right: every run then meets all-wrong groups as well as mixed and
    all-right ones, whatever the random tiny model writes."""

    __name__ = "mostly_parity"

    def __call__(self, prompts=None, completions=None, completion_ids=None, prompt_id=None, **kwargs):
        ids = prompt_id if prompt_id is not None else [1] * len(completion_ids)
        values = [1.0 if sum(c) % 2 == 0 and int(p) % 3 != 0 else 0.0 for c, p in zip(completion_ids, ids)]
        self.last_correct = [v == 1.0 for v in values]  # this call's verdicts, one per completion
        return values


@hookimpl
def register_rewards(register):
    register("mostly_parity", MostlyParity)


def base_recipe(model_path: str, output_dir: str) -> dict:
    return {
        "model": {"name_or_path": model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 32, "n_test": 4, "max_operand": 99}},
        "trainer": {"algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 8,
                    "max_completion_length": 8, "learning_rate": 1.0e-3, "temperature": 1.0, "logging_steps": 1,
                    "generation_kwargs": dict(EOS_BIAS)},
        "rewards": [{"name": "mostly_parity"}],
        "plugins": {},
        "output_dir": output_dir,
    }


def apply_member(recipe: dict, member: str, model_path: str) -> None:
    """Switch one member of the matrix on in a recipe dict (in place)."""
    trainer, plugins = recipe["trainer"], recipe["plugins"]
    if member == "correctness":  # first: the first reward that grades correctness decides `correct`
        recipe["rewards"].insert(0, {"name": "correctness"})
    elif member == "format_reward":
        recipe["rewards"].append({"name": "format"})
    elif member == "fastcurl":
        plugins["fastcurl"] = {"stages": [{"level": "short", "steps": 2}], "fresh_optimizer": False}
    elif member == "hapo":
        plugins["hapo"] = {}
    elif member == "inra":
        plugins["inra"] = {"save_adapter": False}
    elif member == "one_shot":
        plugins["one_shot"] = {"examples": [ONE_SHOT_EXAMPLE], "replicate": 2}
    elif member == "pcl":
        plugins["pcl"] = {"pool_multiplier": 2, "head_learning_rate": 0.05, "batch_size": 16}
    elif member == "ppo":
        trainer["algorithm"] = "ppo"
    elif member == "questa":
        plugins["questa"] = {"schedule": copy.deepcopy(HINT_SCHEDULE)}
    elif member == "trra":
        plugins["trra"] = {"aligned_model": model_path, "loss_coef": 0.1}
    elif member == "group_filter":
        trainer["group_filter"] = list(BAND)
    elif member == "refill":
        trainer["group_filter"] = list(BAND)
        trainer["group_filter_max_rounds"] = 2
    elif member == "sft":
        trainer.clear()
        trainer.update({"algorithm": "sft", "completion_column": "solution", "max_steps": 2,
                        "per_device_train_batch_size": 4, "max_length": 64, "learning_rate": 1.0e-3})
        recipe["rewards"] = []
    elif member == "distill":
        apply_member(recipe, "sft", model_path)
        trainer["algorithm"] = "distill"
        plugins.setdefault("trra", {"aligned_model": model_path})
    else:
        raise KeyError(member)


def members_recipe(members, model_path: str, output_dir: str, compose: dict | None = None,
                   data: dict | None = None) -> dict:
    recipe = base_recipe(model_path, output_dir)
    recipe["data"]["options"].update(data or {})
    order = ["sft", "distill"]  # trainers first: they reset the trainer section
    for member in sorted(members, key=lambda m: (m not in order, m)):
        apply_member(recipe, member, model_path)
    if compose:
        recipe["compose"] = dict(compose)
    return recipe


def plugin_manager():
    from trl_reasoning.plugins.manager import PluginManager

    modules = [(name, importlib.import_module(path)) for name, path in BUILTIN.items()]
    return PluginManager(extra_modules=modules + [("composition_helpers", sys.modules[__name__])], discover=False)


class Observer:
    """Records every scored generation round, every batch as it reaches the loss, and (with PCL) the prompt texts
    PCL's value model predicted on at each step."""

    def __init__(self):
        self.rounds: list[dict] = []
        self.loss_batches: list[dict] = []
        self.predicted: dict[int, list[str]] = {}  # step -> texts PCL's value model predicted on

    @hookimpl(trylast=True)
    def trainer_ready(self, trainer):
        pcl = trainer.pm.active.get("pcl")
        if pcl is None:
            return
        predict = pcl.value.predict

        def spy(texts, *args, **kwargs):
            self.predicted.setdefault(trainer.state.global_step, []).extend(texts)
            return predict(texts, *args, **kwargs)

        pcl.value.predict = spy

    @hookimpl
    def on_rewards(self, trainer, batch):
        G = batch.num_generations
        self.rounds.append({
            "step": batch.step,
            "round": getattr(getattr(batch, "round", None), "round_index", None),
            "group_ids": [int(batch.prompt_ids[g * G]) for g in range(batch.num_groups)],
            "prompts": [batch.prompts[g * G] for g in range(batch.num_groups)],
            "variants": [batch.variant(g * G) if hasattr(batch, "variant") else "" for g in range(batch.num_groups)],
            "correct": None if batch.correct is None else batch.correct.clone(),  # (B,)
            "rewards": {name: batch.rewards[:, i].clone() for i, name in enumerate(batch.reward_names)},  # (B,) each
            "lengths": batch.completion_lengths.clone(),  # (B,)
            "G": G,
        })

    @hookimpl
    def extra_batch_fields(self, trainer, batch, inputs, output):
        G = batch.num_generations
        advantages = output["advantages"]  # (B_local,) or per-token (B_local, T)
        flat = advantages.abs().reshape(advantages.size(0), -1).sum(dim=1)  # (B_local,)
        self.loss_batches.append({
            "step": trainer.state.global_step,
            "group_ids": [int(batch.prompt_ids[g * G]) for g in range(batch.num_groups)],
            "pass_rates": [float(r) for r in batch.group_pass_rate()] if batch.correct is not None else [],
            "advantage_mass": flat.view(batch.num_groups, G).sum(dim=1).tolist(),  # (num_groups,)
            "per_token": advantages.dim() == 2,
            "correct": None if batch.correct is None else batch.correct.clone(),  # (B,)
        })
        return None


def read_metrics(output_dir) -> list[dict]:
    path = Path(output_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@contextlib.contextmanager
def _no_plots():
    """``write_plots`` is a no-op wherever the run modules imported it."""
    from trl_reasoning.lifecycle import report

    original = report.write_plots
    patched = [(name, module) for name, module in list(sys.modules.items())
               if name.startswith("trl_reasoning") and getattr(module, "write_plots", None) is original]
    for _, module in patched:
        module.write_plots = lambda output_dir: []
    try:
        yield
    finally:
        for _, module in patched:
            module.write_plots = original


def run_members(members, model_path: str, output_dir, compose: dict | None = None, data: dict | None = None) -> dict:
    """Two steps of the members' recipe on the tiny model; what the observer saw, the trainer and the metrics.

    The run's PNG plots are skipped: drawing them is most of a two-step tiny run's time, and nothing here reads them.
    """
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    recipe = recipe_from_dict(members_recipe(members, model_path, str(output_dir), compose, data))
    pm = plugin_manager()
    observer = Observer()
    if recipe.algorithm in ("grpo", "ppo"):  # sft/distill refuse a plugin whose hooks they never call
        pm.register_active("observer", observer)
    import inspect

    if "plots" in inspect.signature(run_recipe).parameters:
        results = run_recipe(recipe, output_dir=str(output_dir), pm=pm, plots=False)
    else:
        with _no_plots():
            results = run_recipe(recipe, output_dir=str(output_dir), pm=pm)
    return {"members": tuple(members), "results": results, "trainer": results["trainer"], "observer": observer,
            "metrics": read_metrics(output_dir), "output_dir": Path(output_dir), "model_path": model_path}


def validate_members(members, model_path: str, output_dir, compose: dict | None = None) -> None:
    """What ``trl-reason run`` checks before it loads a model: ``prepare``, the trainer config, ``validate_run``."""
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import build_config, prepare

    recipe = recipe_from_dict(members_recipe(members, model_path, str(output_dir), compose))
    prepared = prepare(recipe, plugin_manager())
    args = build_config(prepared, str(output_dir))
    prepared.pm.hook.validate_run(recipe=recipe, args=args)
