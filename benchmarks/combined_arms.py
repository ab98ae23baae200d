"""Shared runner of the combined-recipe benchmarks (``benchmarks/combined_*.py``): a combined recipe against its
parts, each arm the same recipe with some methods switched off, same seed, same steps, one after the other.

Each arm is built as ``trl-reason run`` builds it (``prepare`` + ``build_trainer``: composition checks included),
trained, then evaluated greedily on the held-out split with the recipe's prompt (``_common.heldout``; a QuestA
recipe's hints are never in held-out prompts). A recorder plugin logs, for every generation round, the share of
groups with a learning signal on the ``correct`` flag (some but not all completions right: the same definition in
every arm, whether PCL is active or not), the correct rate and the mean token length of the correct completions.

The JSON names the recipe by its path inside the repository, the operating point (steps, batch, lengths, seed),
library versions and the machine; no absolute path.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import time
from pathlib import Path

from _common import LogRecorder, heldout_of, train_timed

from trl_reasoning.versions import versions_of

ROOT = Path(__file__).resolve().parents[1]
CURVES = ("reward", "correct/rate", "completions/mean_length", "entropy", "pcl/effective_ratio",
          "hapo/mean_correct_length", "critic/value_loss", "schedule/hint_fraction", "schedule/level")


class RoundRecorder:
    """Per generation round: step, learning-signal share (mixed groups on ``correct``), correct rate, mean length of
    the correct completions, and the prompt variants generated."""

    def __init__(self):
        self.rounds: list[dict] = []

    def on_rewards(self, trainer, batch):
        G = batch.num_generations
        correct = batch.correct.view(-1, G).float()  # (num_groups, G)
        rate = correct.mean(dim=1)  # (num_groups,)
        lengths = batch.completion_lengths[batch.correct].float()  # (K,)
        self.rounds.append({
            "step": int(batch.step),
            "mixed_share": float(((rate > 0) & (rate < 1)).float().mean()),
            "correct_rate": float(correct.mean()),
            "mean_correct_length": float(lengths.mean()) if lengths.numel() else None,
            "variants": sorted(set(getattr(batch, "variants", None) or [""])),
            "prompt_ids": sorted({int(p) for p in batch.prompt_ids}),
        })


def _recorder_plugin(recorder: RoundRecorder):
    from trl_reasoning import hookimpl

    class Plugin:
        @hookimpl
        def on_rewards(self, trainer, batch):
            recorder.on_rewards(trainer, batch)

    return Plugin()


def versions() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            **versions_of(("trl-reasoning", "torch", "transformers", "trl", "accelerate"))}


def operating_point(recipe) -> dict:
    t = recipe.trainer
    return {"model": recipe.model.name_or_path, "data": recipe.data.train,
            "data_options": dict(recipe.data.options or {}), "algorithm": t.get("algorithm", "grpo"),
            "max_steps": t.get("max_steps"), "num_generations": t.get("num_generations"),
            "per_device_train_batch_size": t.get("per_device_train_batch_size"),
            "max_completion_length": t.get("max_completion_length"), "learning_rate": t.get("learning_rate"),
            "temperature": t.get("temperature"), "entropy_coef": t.get("entropy_coef"), "seed": recipe.seed,
            "eval": {"limit": recipe.eval.limit, "max_new_tokens": recipe.eval.max_new_tokens, "greedy": True}}


def run_arm(recipe_rel: str, arm: str, drop: tuple[str, ...], sets: list[str], steps: int | None,
            workdir: Path, before: bool, unset: tuple[str, ...] = ()) -> dict:
    """One arm: the recipe with the plugins in ``drop`` removed (and ``compose:`` entries naming them), the
    ``trainer:`` keys in ``unset`` removed, ``sets`` applied as ``--set`` overrides."""
    import torch

    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.run import build_trainer, prepare

    overrides = [*sets, *([f"trainer.max_steps={steps}"] if steps else [])]
    recipe = load_recipe(str(ROOT / recipe_rel), overrides)
    recipe.plugins = {k: v for k, v in recipe.plugins.items() if k not in drop}
    recipe.trainer = {k: v for k, v in recipe.trainer.items() if k not in unset}
    compose = dict(getattr(recipe, "compose", None) or {})
    compose = {hook: owner for hook, owner in compose.items() if owner in recipe.plugins}
    if len([p for p in ("fastcurl", "pcl") if p in recipe.plugins]) < 2:
        compose.pop("select_prompts", None)  # a single selector needs no statement
    recipe.compose = compose
    pm = PluginManager()
    recorder = RoundRecorder()
    prepared = prepare(recipe, pm)
    pm.register_active("combined_bench_recorder", _recorder_plugin(recorder))
    logs = LogRecorder()
    out_dir = workdir / arm
    shutil.rmtree(out_dir, ignore_errors=True)  # metrics.jsonl appends: start clean
    torch.manual_seed(int(recipe.seed))
    trainer = build_trainer(prepared, str(out_dir), [logs])
    result: dict = {"arm": arm, "plugins": sorted(recipe.plugins), "compose": compose, "dropped": list(drop),
                    "overrides": overrides, "unset": list(unset), "algorithm": recipe.trainer.get("algorithm", "grpo"),
                    "threads": torch.get_num_threads()}
    if before:
        result["heldout_before"] = heldout_of(recipe, trainer, correct_lengths=True)
    result.update(train_timed(trainer))
    result["heldout_after"] = heldout_of(recipe, trainer, correct_lengths=True)
    result["curves"] = {key: [log.get(key) for log in logs.logs] for key in CURVES
                        if any(key in log for log in logs.logs)}
    rounds = recorder.rounds
    result["rounds"] = rounds
    mixed = [r["mixed_share"] for r in rounds]
    result["effective_ratio_mean"] = sum(mixed) / len(mixed) if mixed else None
    lengths = [r["mean_correct_length"] for r in rounds if r["mean_correct_length"] is not None]
    result["train_mean_correct_length"] = sum(lengths) / len(lengths) if lengths else None
    result["train_correct_rate_mean"] = sum(r["correct_rate"] for r in rounds) / len(rounds) if rounds else None
    entropy = result["curves"].get("entropy") or []
    entropy = [e for e in entropy if e is not None]
    result["entropy_first_last"] = [entropy[0], entropy[-1]] if entropy else None
    result["entropy_mean"] = sum(entropy) / len(entropy) if entropy else None
    result["operating_point"] = operating_point(recipe)
    del trainer
    gc.collect()
    return result


def run_benchmark(name: str, recipe_rel: str, arms: dict[str, dict], steps: int | None, sets: list[str],
                  workdir: str, summary_of) -> dict:
    """Run ``arms`` (name -> {"drop": plugins to switch off, "unset": trainer keys, "set": overrides}) in order, write
    ``benchmarks/results/<name>.json``; ``summary_of(results_by_arm)`` gives the side-by-side numbers."""
    work = Path(workdir)
    results, first = {}, True
    started = time.perf_counter()
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    before = None
    for arm, spec in arms.items():  # the JSON is rewritten after every arm: a stopped run keeps what it finished
        print(f"[{name}] arm {arm} ...", flush=True)
        results[arm] = run_arm(recipe_rel, arm, tuple(spec.get("drop", ())), [*sets, *spec.get("set", [])], steps,
                               work, before=first, unset=tuple(spec.get("unset", ())))
        if first:
            before = results[arm]["heldout_before"]
        first = False
        out = {"benchmark": name, "recipe": recipe_rel, "steps": steps, "overrides": sets,
               "operating_point": next(iter(results.values()))["operating_point"], "versions": versions(),
               "arms_finished": list(results), "arms_planned": list(arms),
               "heldout_before": {k: before[k] for k in before if k != "examples"},
               "summary": summary_of(results, before), "arms": results,
               "wall_s": round(time.perf_counter() - started, 1),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(out["summary"], indent=2))
    return out


def main_for(name: str, recipe_rel: str, arms: dict[str, dict], summary_of, description: str, argv=None) -> int:
    """The command line every ``combined_*.py`` benchmark has: ``--steps``, ``--set KEY=VALUE``, ``--workdir``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (default: the recipe's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--workdir", default=f"/tmp/{name}")
    args = parser.parse_args(argv)
    run_benchmark(name, recipe_rel, arms, args.steps, args.set, args.workdir, summary_of)
    return 0


def table(results: dict, columns: dict[str, callable]) -> list[dict]:
    """One row per arm: ``{"arm": ..., column: value}``."""
    return [{"arm": arm, **{col: fn(r) for col, fn in columns.items()}} for arm, r in results.items()]
