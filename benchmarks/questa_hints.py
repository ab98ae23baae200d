"""QuestA on the embedded default: train-time success with and without partial-solution hints, and held-out
accuracy (never hinted) after each run.

Runs ``recipes/questa/cpu.yaml`` twice with the same seed, data order and settings: once as written (hints, p = 0.5
then 0.25) and once without the ``questa`` plugin (the baseline). Each arm is its own ``trl-reason run`` process.
Per step it records the strict success rate (boxed and right: the ``correct`` flag), the lenient reward mean and the
completion length; per arm the held-out accuracy on unhinted prompts (before training once, after each arm)::

    python benchmarks/questa_hints.py                        # about 5-15 minutes per arm on 2 idle CPU cores
    python benchmarks/questa_hints.py --eval-limit 30             # the stored result (15 minutes, arms in turn)
    python benchmarks/questa_hints.py --steps 4 --eval-limit 16 --set model.name_or_path=/path/to/tiny   # smoke

Writes ``benchmarks/results/questa_hints.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "questa" / "cpu.yaml"
PER_STEP_KEYS = ("correct/rate", "reward", "rewards/boxed_integer/mean", "completions/mean_length",
                 "schedule/hint_fraction", "questa/hinted_fraction", "questa/hint_chars_mean")


def arm_command(name: str, hints: bool, args, output_root: Path, evaluate_before: bool) -> list[str]:
    out = output_root / name
    if out.exists():
        import shutil

        shutil.rmtree(out)
    overrides = [f"trainer.max_steps={args.steps}", f"eval.limit={args.eval_limit}",
                 f"eval.before={'true' if evaluate_before else 'false'}", "eval.after=true", f"seed={args.seed}"]
    if not hints:
        overrides.append("plugins={}")
    elif args.switch_step is not None:
        overrides.append("plugins.questa.schedule=[{start_step: 0, fraction: 0.5}, "
                         f"{{start_step: {args.switch_step}, fraction: 0.25}}]")
    overrides += args.set or []
    command = [sys.executable, "-m", "trl_reasoning.cli.main", "run", str(args.recipe), "--output-dir", str(out)]
    for item in overrides:
        command += ["--set", item]
    print(f"[{name}] {' '.join(command)}", flush=True)
    return command


def read_arm(name: str, hints: bool, output_root: Path, wall: float) -> dict:
    out = output_root / name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [{"step": r["step"], **{k: r.get(k) for k in PER_STEP_KEYS if k in r}} for r in rows
             if "correct/rate" in r]
    results = json.loads((out / "results.json").read_text())
    rates = [s["correct/rate"] for s in steps]
    rewards = [s["reward"] for s in steps if s.get("reward") is not None]
    return {
        "hints": hints, "wall_s": round(wall, 1), "steps": len(steps), "per_step": steps,
        "train_correct_rate_mean": sum(rates) / len(rates) if rates else None,
        "train_reward_mean": sum(rewards) / len(rewards) if rewards else None,
        "heldout_before": results.get("before"), "heldout_after": results.get("after"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("::")[0], formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--recipe", default=str(RECIPE))
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--eval-limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parallel", action="store_true", help="run the two arms at the same time")
    parser.add_argument("--switch-step", type=int, default=None,
                        help="step at which the hinted arm goes from p = 0.5 to 0.25 (default: the recipe's)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="extra recipe overrides (both arms)")
    parser.add_argument("--output-root", default=str(ROOT / "runs" / "bench-questa-hints"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "questa_hints.json"))
    args = parser.parse_args()

    root = Path(args.output_root)
    arms = [("no_hints", False, True), ("hints", True, False)]
    commands = [arm_command(name, hints, args, root, before) for name, hints, before in arms]
    walls = {}
    if args.parallel:  # two processes: on a shared machine each gets its own share of the CPUs
        started = time.time()
        processes = [subprocess.Popen(command, cwd=ROOT) for command in commands]
        for (name, _, _), process in zip(arms, processes):
            if process.wait() != 0:
                raise SystemExit(f"arm {name} failed with exit status {process.returncode}")
            walls[name] = time.time() - started
    else:
        for (name, _, _), command in zip(arms, commands):
            started = time.time()
            subprocess.run(command, check=True, cwd=ROOT)
            walls[name] = time.time() - started
    baseline = read_arm("no_hints", False, root, walls["no_hints"])
    hinted = read_arm("hints", True, root, walls["hints"])
    hinted["heldout_before"] = baseline["heldout_before"]  # same model, same held-out rows: evaluated once
    side_by_side = []
    for a, b in zip(baseline["per_step"], hinted["per_step"]):
        side_by_side.append({"step": a["step"], "correct_no_hints": a.get("correct/rate"),
                             "correct_hints": b.get("correct/rate"), "reward_no_hints": a.get("reward"),
                             "reward_hints": b.get("reward"), "hint_fraction": b.get("schedule/hint_fraction")})
    report = {
        "benchmark": "questa_hints", "recipe": os.path.relpath(args.recipe, ROOT), "steps": args.steps,
        "seed": args.seed, "eval_limit": args.eval_limit, "overrides": args.set or [], "parallel": args.parallel,
        "switch_step": args.switch_step,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "how": "two `trl-reason run` processes on the same recipe, seed and data order; `correct` = boxed and right "
               "(strict), reward = boxed_integer with 0.5 for a right last number; held-out = greedy on unhinted "
               "test prompts",
        "arms": {"no_hints": baseline, "hints": hinted},
        "side_by_side": side_by_side,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: report["arms"][k] | {"per_step": "..."} for k in report["arms"]}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
