"""HAPO against correctness-only GRPO on the embedded default: same recipe, seed and steps, side by side.

::

    python benchmarks/hapo_vs_baseline.py                     # recipes/hapo/cpu.yaml, its max_steps per arm
    python benchmarks/hapo_vs_baseline.py --steps 2 --set test_model=/path/to/tiny   # a quick check

Arm ``baseline`` is the recipe without ``plugins.hapo`` (reward: correctness only); arm ``hapo`` is the recipe as it
is. Both start from the same model, with the same seed, data order and generation settings. For each arm it records
the training curves (reward, ``correct/rate``, mean completion length, HAPO's mean correct length) and a greedy
held-out evaluation after training: strict accuracy (right boxed answer), lenient accuracy (last number right),
mean response length and mean length of the strictly correct responses (tokens of the decoded response, without
special tokens). The held-out evaluation before training is shared. Writes ``benchmarks/results/hapo_vs_baseline.json``.
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

ROOT = Path(__file__).resolve().parents[1]


def run_arm(recipe_path: str, arm: str, steps: int, overrides: list[str], output_dir: Path, before: bool) -> dict:
    import trl_reason_hapo.plugin as hapo_plugin

    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import build_trainer, prepare

    recipe = load_recipe(recipe_path, [*overrides, *([f"trainer.max_steps={steps}"] if steps else [])])
    if arm == "baseline":
        recipe.plugins = {k: v for k, v in recipe.plugins.items() if k != "hapo"}
    prepared = prepare(recipe, PluginManager(extra_modules=[("hapo", hapo_plugin)], discover=False))
    recorder = LogRecorder()
    shutil.rmtree(output_dir / arm, ignore_errors=True)  # metrics.jsonl appends: start clean
    trainer = build_trainer(prepared, str(output_dir / arm), [recorder])
    result: dict = {"steps": recipe.trainer.get("max_steps"), "arm": arm, "plugins": sorted(recipe.plugins)}
    if before:
        result["heldout_before"] = heldout_of(recipe, trainer, correct_lengths=True)
    result.update(train_timed(trainer))
    result["heldout_after"] = heldout_of(recipe, trainer, correct_lengths=True)
    curve = lambda key: [log.get(key) for log in recorder.logs]  # noqa: E731
    result["curves"] = {key: curve(key) for key in ("reward", "correct/rate", "completions/mean_length",
                                                     "rewards/boxed_integer/mean", "hapo/mean_correct_length",
                                                     "hapo/share_with_history")}
    lengths = [x for x in result["curves"]["completions/mean_length"] if x is not None]
    head, tail = lengths[:3], lengths[-3:]
    result["train_mean_length_first3_last3"] = [sum(head) / len(head), sum(tail) / len(tail)] if lengths else None
    del trainer
    gc.collect()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/hapo/cpu.yaml"))
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (default: the recipe's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/hapo_vs_baseline.json"))
    parser.add_argument("--workdir", default="/tmp/hapo_vs_baseline")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    arms = [run_arm(args.recipe, arm, args.steps, args.set, workdir, before=(arm == "baseline"))
            for arm in ("baseline", "hapo")]
    base, hapo = arms
    summary = {
        "heldout_accuracy_before": base["heldout_before"]["accuracy"],
        "heldout_accuracy": {a["arm"]: a["heldout_after"]["accuracy"] for a in arms},
        "heldout_lenient_accuracy": {a["arm"]: a["heldout_after"]["lenient_accuracy"] for a in arms},
        "heldout_mean_correct_length": {a["arm"]: a["heldout_after"]["mean_correct_length"] for a in arms},
        "heldout_mean_length": {a["arm"]: a["heldout_after"]["mean_length"] for a in arms},
        "heldout_mean_correct_length_before": base["heldout_before"]["mean_correct_length"],
        "train_mean_length_first3_last3": {a["arm"]: a["train_mean_length_first3_last3"] for a in arms},
        "accuracy_points_hapo_minus_baseline": 100 * (hapo["heldout_after"]["accuracy"]
                                                      - base["heldout_after"]["accuracy"]),
    }
    out = {"benchmark": "hapo_vs_baseline", "recipe": args.recipe, "steps": args.steps, "overrides": args.set,
           "machine": {"platform": platform.platform(), "python": platform.python_version()},
           "summary": summary, "arms": arms, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
