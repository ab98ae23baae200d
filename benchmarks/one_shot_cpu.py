"""1-shot RLVR on the embedded default, on the paper's metric (strict: a right boxed answer): held-out accuracy
before training and after each arm, side by side, same seed, same steps.

::

    python benchmarks/one_shot_cpu.py                       # every arm, one after the other, in this process
    python benchmarks/one_shot_cpu.py --arms one_shot --partial-dir /tmp/os   # one arm (run arms in parallel) ...
    python benchmarks/one_shot_cpu.py --merge /tmp/os       # ... then merge their results into the JSON
    python benchmarks/one_shot_cpu.py --steps 2 --set test_model=/path/to/tiny     # a quick check

Arms (each its recipe overrides, recorded in the result; all start from the same model with the same seed,
generation settings and number of optimizer steps):

* ``before``: no training, the held-out evaluation of the starting model.
* ``one_shot``: ``recipes/one-shot-rlvr/cpu.yaml`` as it is: GRPO on ONE example, policy gradient + entropy bonus.
* ``format_reward``: the paper's key baseline (Tab. 8 "format reward"): the same trainer on the whole train split,
  rewarded 1 for a single boxed answer whatever its value (``boxed_integer`` at weight 0 only logs correctness).
  1-shot's gain beyond this one is its gain beyond format correction.
* ``entropy_only``: ``trainer.pg_loss_coef=0`` (Tab. 5: the policy gradient removed, the entropy bonus trains) at
  the recipe's learning rate (20x the paper's 1e-6, as the recipe's 1-shot arm).
* ``entropy_only_paper_lr``: the same at the paper's learning rate 1e-6.

The greedy held-out evaluation (strict: right boxed answer; lenient: last number right; boxed rate; mean length)
uses the recipe's prompt, including its boxed few-shot turns. Writes ``benchmarks/results/one_shot_cpu.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from _common import LogRecorder, heldout_of, train_timed

ROOT = Path(__file__).resolve().parents[1]
ARMS = {
    "before": None,
    "one_shot": [],
    "format_reward": ["rewards=[{name: format, config: {value: 1.0, require_single_box: true}}, "
                      "{name: boxed_integer, weight: 0.0}]", "plugins={}"],
    "entropy_only": ["trainer.pg_loss_coef=0"],
    "entropy_only_paper_lr": ["trainer.pg_loss_coef=0", "trainer.learning_rate=1.0e-6"],
}
KEYS = ("accuracy", "lenient_accuracy", "boxed_rate", "mean_length")


def plugin_manager():
    import trl_reason_format_reward.plugin as format_plugin
    import trl_reason_one_shot.plugin as one_shot_plugin

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("one_shot", one_shot_plugin), ("format_reward", format_plugin)],
                         discover=False)


def run_arm(recipe_path: str, arm: str, steps: int | None, overrides: list[str], output_dir: Path) -> dict:
    import torch

    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import build_trainer, prepare

    arm_overrides = ARMS[arm] or []
    recipe = load_recipe(recipe_path, [*overrides, *arm_overrides, *([f"trainer.max_steps={steps}"] if steps else [])])
    prepared = prepare(recipe, plugin_manager())
    recorder = LogRecorder()
    shutil.rmtree(output_dir / arm, ignore_errors=True)  # metrics.jsonl appends: start clean
    trainer = build_trainer(prepared, str(output_dir / arm), [recorder])
    result: dict = {"arm": arm, "overrides": arm_overrides, "seed": recipe.seed,
                    "steps": None if ARMS[arm] is None else recipe.trainer.get("max_steps"),
                    "learning_rate": recipe.trainer.get("learning_rate"),
                    "rewards": [{"name": r.name, "weight": r.weight, "config": r.config} for r in recipe.rewards],
                    "threads": torch.get_num_threads()}
    plugin = trainer.pm.active.get("one_shot")
    if plugin is not None:
        example = trainer.train_dataset[plugin._choose_rows(trainer.train_dataset)[0][0]]
        result["example"] = {"problem": example["problem"], "answer": example["answer"]}
    if ARMS[arm] is None:
        result["heldout"] = heldout_of(recipe, trainer)
        return result
    result.update(train_timed(trainer))
    result["heldout"] = heldout_of(recipe, trainer)
    curve = lambda key: [log.get(key) for log in recorder.logs]  # noqa: E731
    result["curves"] = {key: curve(key) for key in ("reward", "correct/rate", "completions/mean_length", "entropy",
                                                     *(f"rewards/{r.name}/mean" for r in recipe.rewards))}
    if plugin is not None:
        result["train_accuracy_per_epoch"] = plugin.record.hist_acc(example["prompt_id"])
    del trainer
    gc.collect()
    return result


def example_pass_rates(recipe_path: str, overrides: list[str], first: int, last: int, n: int) -> dict:
    """Sampled pass rate (strict, ``n`` completions at the recipe's temperature and length) of the training rows
    ``first..last-1`` under the recipe's prompt: the paper picks its example by the variance of its training
    accuracy, which needs the example to be neither always right nor always wrong."""
    import torch

    from pcl_value_ranking import measure_pass_rates
    from trl_reasoning.data import load_train_rows, prompt_rows
    from trl_reasoning.models import load_model
    from trl_reasoning.config.recipe import load_recipe

    recipe = load_recipe(recipe_path, overrides)
    torch.manual_seed(int(recipe.seed))
    policy, tokenizer = load_model(getattr(recipe, "test_model", None) or recipe.model.name_or_path)
    policy.eval()
    rows = prompt_rows(load_train_rows(recipe.data)[first:last], recipe.data)
    rates = measure_pass_rates(policy, tokenizer, rows, n, recipe.trainer["max_completion_length"],
                               recipe.trainer.get("temperature", 1.0), 8, lambda msg: print(msg, file=sys.stderr))
    return {"n": n, "seed": recipe.seed, "rows": [{"row": first + i, "problem": r["problem"], "pass_rate": p}
                                                  for i, (r, p) in enumerate(zip(rows, rates))]}


def unfinished_arms(workdir: Path, finished: set[str]) -> list[dict]:
    """Arms that started training in ``workdir`` but wrote no result (stopped before their last step): their
    logged training curves from ``metrics.jsonl``, and no held-out numbers."""
    out = []
    for name in ARMS:
        log = workdir / name / "metrics.jsonl"
        if name in finished or ARMS[name] is None or not log.exists():
            continue
        rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if "reward" in r]
        out.append({"arm": name, "overrides": ARMS[name], "status": f"stopped after {len(rows)} logged steps",
                    "curves": {key: [r.get(key) for r in rows] for key in (
                        "step", "reward", "correct/rate", "completions/mean_length", "entropy",
                        "frac_reward_zero_std")}})
    return out


def merge(arms: list[dict], recipe_path: str, steps, overrides, command: str, unfinished=()) -> dict:
    by_arm = {a["arm"]: a for a in arms}
    if "before" in by_arm:  # no training: which example the recipe names does not enter its evaluation
        by_arm["before"].pop("example", None)
    order = [name for name in ARMS if name in by_arm]
    summary = {name: {k: by_arm[name]["heldout"][k] for k in KEYS} for name in order}
    if "one_shot" in summary and "format_reward" in summary:
        summary["one_shot_minus_format_reward_strict"] = round(
            summary["one_shot"]["accuracy"] - summary["format_reward"]["accuracy"], 4)
    if "one_shot" in summary and "before" in summary:
        summary["one_shot_minus_before_strict"] = round(
            summary["one_shot"]["accuracy"] - summary["before"]["accuracy"], 4)
    train_example = by_arm.get("one_shot", {}).get("example")
    return {"benchmark": "one_shot_cpu", "recipe": os.path.relpath(recipe_path, ROOT), "steps": steps,
            "overrides": overrides, "command": command,
            "seed": next(iter(by_arm.values()))["seed"], "same_seed_all_arms": len({a["seed"] for a in arms}) == 1,
            "metric": "strict = greedy response's boxed answer equals the reference (the paper's); lenient = last "
                      "number equals it",
            "machine": {"platform": platform.platform(), "python": platform.python_version()},
            "train_example": train_example, "summary": summary, "arms": [by_arm[n] for n in order],
            "unfinished_arms": list(unfinished),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/one-shot-rlvr/cpu.yaml"))
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per arm (default: the recipe's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--partial-dir", default=None, help="write each arm's result here (for --merge)")
    parser.add_argument("--merge", default=None, metavar="DIR", help="merge the arm results in DIR and stop")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/one_shot_cpu.json"))
    parser.add_argument("--workdir", default="/tmp/one_shot_cpu")
    parser.add_argument("--pass-rates", default=None, metavar="FIRST:LAST",
                        help="only measure the sampled pass rate of training rows FIRST..LAST-1 (to pick the example)")
    parser.add_argument("--pass-rate-n", type=int, default=8)
    args = parser.parse_args(argv)
    if args.pass_rates:
        first, last = (int(x) for x in args.pass_rates.split(":"))
        out = example_pass_rates(args.recipe, args.set, first, last, args.pass_rate_n)
        Path(args.output).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(out, indent=2))
        return 0
    command = " ".join(["python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]) if argv is None else ""
    if args.merge:
        parts = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(args.merge).glob("*.json"))]
        arms = [a for part in parts for a in part["arms"]]
        trained = [a["steps"] for a in arms if a["steps"] is not None]
        out = merge(arms, args.recipe, (trained[0] if len(set(trained)) == 1 else trained) if trained else None,
                    parts[0]["overrides"], "; ".join(p["command"] for p in parts) + f"; {command}",
                    unfinished_arms(Path(args.workdir), {a["arm"] for a in arms}))
    else:
        names = [a.strip() for a in args.arms.split(",") if a.strip()]
        unknown = set(names) - set(ARMS)
        if unknown:
            parser.error(f"unknown arms {sorted(unknown)}; choose from {', '.join(ARMS)}")
        arms = [run_arm(args.recipe, name, args.steps, args.set, Path(args.workdir)) for name in names]
        if args.partial_dir:
            Path(args.partial_dir).mkdir(parents=True, exist_ok=True)
            part = {"steps": args.steps, "overrides": args.set, "command": command, "arms": arms}
            Path(args.partial_dir, f"{'+'.join(names)}.json").write_text(json.dumps(part, indent=2), encoding="utf-8")
            print(json.dumps({a["arm"]: {k: a["heldout"][k] for k in KEYS} for a in arms}, indent=2))
            return 0
        out = merge(arms, args.recipe, args.steps, args.set, command)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
