"""PPO (critic + GAE) against GRPO on the same recipe, in one process: learning curves and step time.

::

    python benchmarks/ppo_vs_grpo.py                                  # recipes/ppo/cpu.yaml, 12 steps each
    python benchmarks/ppo_vs_grpo.py --steps 4 --set test_model=/path/to/tiny   # a quick check

Runs the recipe twice with the same seed, data and generation settings: once as ``trainer.algorithm: grpo`` (the PPO
fields dropped) and once as ``ppo``. For every optimizer step it records the wall time (from step begin to step end,
generation included), the mean reward and, for PPO, the critic's value loss. Writes
``benchmarks/results/ppo_vs_grpo.json`` with both curves, their first and last values (and the mean of the first and
last three steps, since one step's reward is noisy), and the ratio of the median step times (PPO / GRPO, first step
excluded: it pays model loading and first-touch memory costs), in wall time and in this process's CPU time (the
CPU-time ratio holds when other processes share the machine; the wall-time ratio does not).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

ROOT = Path(__file__).resolve().parents[1]


class StepRecorder(TrainerCallback):
    """Wall time of each optimizer step and the metrics TRL logs for it."""

    def __init__(self):
        self.begin = None
        self.cpu_begin = None
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.logs: list[dict] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.begin = time.perf_counter()
        self.cpu_begin = time.process_time()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.begin)
        self.cpu_times.append(time.process_time() - self.cpu_begin)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.logs.append({"step": state.global_step, **logs})


def run(recipe_path: str, algorithm: str, steps: int, overrides: list[str], output_dir: Path) -> dict:
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import build_trainer, prepare

    recipe = load_recipe(recipe_path, [*overrides, f"trainer.max_steps={steps}", f"trainer.algorithm={algorithm}"])
    if algorithm == "grpo":  # same config minus the fields only PPO has
        import dataclasses

        from trl_reasoning.trainers import ReasoningGRPOConfig

        grpo_fields = {f.name for f in dataclasses.fields(ReasoningGRPOConfig)} | {"algorithm"}
        recipe.trainer = {k: v for k, v in recipe.trainer.items() if k in grpo_fields}
    import trl_reason_ppo.plugin as ppo_plugin

    pm = PluginManager(extra_modules=[("ppo", ppo_plugin)], discover=False)
    prepared = prepare(recipe, pm)
    recorder = StepRecorder()
    trainer = build_trainer(prepared, str(output_dir / algorithm), [recorder])
    started = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - started
    curve = lambda key: [log.get(key) for log in recorder.logs]  # noqa: E731
    result = {
        "steps": len(recorder.times),
        "step_time_s": [round(t, 3) for t in recorder.times],
        "median_step_time_s_excluding_first": round(statistics.median(recorder.times[1:] or recorder.times), 3),
        "step_cpu_s": [round(t, 3) for t in recorder.cpu_times],
        "median_step_cpu_s_excluding_first": round(statistics.median(recorder.cpu_times[1:] or recorder.cpu_times), 3),
        "train_wall_s": round(total, 1),
        "reward": curve("reward"),
        "correct_rate": curve("correct/rate"),
        "completion_mean_length": curve("completions/mean_length"),
    }
    if algorithm == "ppo":
        result["value_loss"] = curve("critic/value_loss")
        result["values_mean"] = curve("critic/values_mean")
        result["returns_mean"] = curve("critic/returns_mean")
    del trainer, prepared
    gc.collect()
    return result


def summarize(curve: list) -> dict:
    values = [v for v in curve if v is not None]
    if not values:
        return {}
    head, tail = values[:3], values[-3:]
    return {"first": values[0], "last": values[-1], "mean_first_3": sum(head) / len(head),
            "mean_last_3": sum(tail) / len(tail)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/ppo/cpu.yaml"))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override key=value")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/ppo_vs_grpo.json"))
    parser.add_argument("--work-dir", default="/tmp/ppo_vs_grpo")
    parser.add_argument("--order", default="ppo,grpo", help="which algorithm runs first (both share the process)")
    args = parser.parse_args(argv)

    import torch

    results = {}
    for algorithm in args.order.split(","):
        print(f"== {algorithm}: {args.steps} steps of {args.recipe}", file=sys.stderr)
        results[algorithm] = run(args.recipe, algorithm, args.steps, args.overrides, Path(args.work_dir))
        partial = Path(args.output).with_suffix(".partial.json")  # survives if the second run is cut short
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"recipe": args.recipe, "overrides": args.overrides, "runs": results}, indent=2))
    ppo, grpo = results["ppo"], results["grpo"]
    report = {
        "benchmark": "ppo_vs_grpo",
        "recipe": args.recipe,
        "overrides": args.overrides,
        "steps": args.steps,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "cuda": torch.cuda.is_available()},
        "ppo_over_grpo_step_time": round(ppo["median_step_time_s_excluding_first"]
                                         / grpo["median_step_time_s_excluding_first"], 3),
        "ppo_over_grpo_step_cpu_time": round(ppo["median_step_cpu_s_excluding_first"]
                                             / grpo["median_step_cpu_s_excluding_first"], 3),
        "ppo_value_loss": summarize(ppo["value_loss"]),
        "ppo_reward": summarize(ppo["reward"]),
        "grpo_reward": summarize(grpo["reward"]),
        "runs": results,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("ppo_over_grpo_step_time", "ppo_over_grpo_step_cpu_time", "ppo_value_loss", "ppo_reward",
                                             "grpo_reward")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
