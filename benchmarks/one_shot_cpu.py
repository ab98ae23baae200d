"""1-shot RLVR on the embedded default: held-out accuracy before and after training on ONE arithmetic example, next
to the entropy-only variant with the same seed and steps.

::

    python benchmarks/one_shot_cpu.py                       # recipes/one-shot-rlvr/cpu.yaml, its max_steps per arm
    python benchmarks/one_shot_cpu.py --steps 2 --set test_model=/path/to/tiny     # a quick check

Arm ``one_shot`` runs the recipe as it is (policy gradient + entropy bonus 0.001); arm ``entropy_only`` adds
``trainer.pg_loss_coef=0`` (1-shot RLVR Tab. 5: the rewards are still computed and logged, only the entropy bonus
trains). Both start from the same model with the same seed, data stream and generation settings. The greedy held-out
evaluation (strict: right boxed answer; lenient: last number right; boxed rate; mean length) runs once before training
and after each arm. Writes ``benchmarks/results/one_shot_cpu.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shutil
import time
from pathlib import Path

from _common import LogRecorder, heldout

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"one_shot": [], "entropy_only": ["trainer.pg_loss_coef=0"]}


def run_arm(recipe_path: str, arm: str, steps: int, overrides: list[str], output_dir: Path, before: bool) -> dict:
    import torch
    import trl_reason_one_shot.plugin as one_shot_plugin

    from trl_reasoning.plugins import PluginManager
    from trl_reasoning.recipe import load_recipe
    from trl_reasoning.run import build_trainer, prepare

    recipe = load_recipe(recipe_path, [*overrides, *ARMS[arm], *([f"trainer.max_steps={steps}"] if steps else [])])
    prepared = prepare(recipe, PluginManager(extra_modules=[("one_shot", one_shot_plugin)], discover=False))
    recorder = LogRecorder()
    shutil.rmtree(output_dir / arm, ignore_errors=True)  # metrics.jsonl appends: start clean
    trainer = build_trainer(prepared, str(output_dir / arm), [recorder])
    plugin = trainer.pm.active["one_shot"]
    example = trainer.train_dataset[plugin._choose_rows(trainer.train_dataset)[0][0]]
    result: dict = {"steps": recipe.trainer.get("max_steps"), "arm": arm, "overrides": ARMS[arm],
                    "example": {"problem": example["problem"], "answer": example["answer"]}}
    if before:
        trainer.model.eval()
        with torch.no_grad():
            result["heldout_before"] = heldout(recipe, trainer.model, trainer.processing_class)
    started, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    result["train_wall_s"] = round(time.perf_counter() - started, 1)
    result["train_cpu_s"] = round(time.process_time() - cpu, 1)
    trainer.model.eval()
    with torch.no_grad():
        result["heldout_after"] = heldout(recipe, trainer.model, trainer.processing_class)
    curve = lambda key: [log.get(key) for log in recorder.logs]  # noqa: E731
    result["curves"] = {key: curve(key) for key in ("reward", "correct/rate", "completions/mean_length", "entropy",
                                                     "rewards/boxed_integer/mean")}
    result["train_accuracy_per_epoch"] = plugin.record.hist_acc(example["prompt_id"])
    del trainer
    gc.collect()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/one-shot-rlvr/cpu.yaml"))
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (default: the recipe's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/one_shot_cpu.json"))
    parser.add_argument("--workdir", default="/tmp/one_shot_cpu")
    args = parser.parse_args(argv)
    arms = [run_arm(args.recipe, arm, args.steps, args.set, Path(args.workdir), before=(i == 0))
            for i, arm in enumerate(ARMS)]
    before = arms[0]["heldout_before"]
    keys = ("accuracy", "lenient_accuracy", "boxed_rate", "mean_length")
    summary = {"before": {k: before[k] for k in keys},
               **{a["arm"]: {k: a["heldout_after"][k] for k in keys} for a in arms},
               "train_example": arms[0]["example"]}
    out = {"benchmark": "one_shot_cpu", "recipe": args.recipe, "steps": args.steps, "overrides": args.set,
           "machine": {"platform": platform.platform(), "python": platform.python_version()},
           "summary": summary, "arms": arms, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
