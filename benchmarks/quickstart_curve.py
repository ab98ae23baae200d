"""The quickstart's learning curve: held-out strict accuracy against optimizer step and wall time, per setting.

::

    python benchmarks/quickstart_curve.py                                  # every setting, one after the other
    python benchmarks/quickstart_curve.py --settings recipe --exclusive    # one setting, the machine to itself
    python benchmarks/quickstart_curve.py --settings lr_2e-5 --output /tmp/a.json   # accuracy only (shared machine)
    python benchmarks/quickstart_curve.py --merge /tmp/a.json              # ... folded into the results file
    python benchmarks/quickstart_curve.py --step-times 2 --steps 4 --settings previous,previous_no_checkpointing \
        --exclusive                                                        # seconds per step, interleaved

Each setting is ``trl-reason run recipes/quickstart.yaml`` in a fresh process with the setting's ``--set``
overrides plus ``eval.every_steps`` (the held-out evaluation every N steps; it runs in a forked random state, so
the training run is the one ``make demo`` runs and the curve is that run's). A run on CPU is deterministic for a
given seed and thread count, so accuracies measured on a busy machine hold; wall times do not: they are written
only with ``--exclusive`` (say so only when nothing else runs), and each point's ``train_wall_s`` leaves out the
time the periodic evaluations themselves took (``make demo`` evaluates only before and after).

Per point: ``step``, ``strict`` (boxed answer == reference), ``lenient`` (last number == reference), and with wall
times ``wall_s`` (since the process started, periodic evaluations excluded). Per setting: its overrides, the whole
process's wall time (``process_wall_s``: with the periodic evaluations), the mean seconds per optimizer step and the
mean completion length. Results merge into ``benchmarks/results/quickstart.json`` by setting name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "quickstart.yaml"
RESULT = ROOT / "benchmarks" / "results" / "quickstart.json"

# The settings compared, as overrides of recipes/quickstart.yaml (declared data: a setting's name pins its values,
# whatever the recipe holds today). `previous` is the recipe before issue #20.
PREVIOUS = ["trainer.learning_rate=1e-5", "trainer.gradient_checkpointing=true", "eval.batch_size=20"]
SETTINGS: dict[str, list[str]] = {
    "previous": PREVIOUS,
    "previous_no_checkpointing": [*PREVIOUS[:1], "trainer.gradient_checkpointing=false", *PREVIOUS[2:]],
    "lr_2e-5": ["trainer.learning_rate=2e-5", "trainer.gradient_checkpointing=false", "eval.batch_size=60"],
    "lr_3e-5": ["trainer.learning_rate=3e-5", "trainer.gradient_checkpointing=false", "eval.batch_size=60"],
    "recipe": [],  # recipes/quickstart.yaml as it is
}


def curve_from_metrics(lines: list[dict], started: float) -> dict:
    """The held-out points and step times of one run's ``metrics.jsonl`` lines.

    ``started`` is the process start (epoch seconds). An evaluation at step k (k > 0) runs between step k's
    training and the next step; the run may log it before or after step k's train line. Its duration is the time
    from step k-1's train line to the later of the two lines, less step k's ``step_time``; it is left out of that
    point's and every later point's wall time.
    """
    train = {line["step"]: line for line in lines if "reward" in line}
    points, eval_seconds = [], 0.0
    for line in lines:
        if "heldout/accuracy" not in line:
            continue
        step = line["step"]
        if step in train and step - 1 in train and "step_time" in train[step]:
            finished = max(line["time"], train[step]["time"])
            eval_seconds += max(0.0, finished - train[step - 1]["time"] - train[step]["step_time"])
            wall = line["time"] - started - eval_seconds
        else:
            wall = line["time"] - started  # before training: loading and the first evaluation
        points.append({"step": step, "strict": line["heldout/accuracy"],
                       "lenient": line.get("heldout/lenient_accuracy"), "wall_s": round(wall, 1)})
    steps = sorted(train)
    step_times = [train[s]["step_time"] for s in steps if "step_time" in train[s]]
    lengths = [train[s]["completions/mean_length"] for s in steps if "completions/mean_length" in train[s]]
    return {"points": points, "eval_seconds_excluded": round(eval_seconds, 1),
            "mean_step_s": round(sum(step_times) / len(step_times), 2) if step_times else None,
            "mean_completion_tokens": round(sum(lengths) / len(lengths), 2) if lengths else None}


def run_setting(name: str, overrides: list[str], steps: int | None, every: int, workdir: Path) -> dict:
    out = workdir / name
    command = [sys.executable, "-m", "trl_reasoning.cli.main", "run", str(RECIPE), "--output-dir", str(out),
               "--no-plots", "--set", f"eval.every_steps={every}"]
    for value in overrides + ([f"trainer.max_steps={steps}"] if steps else []):
        command += ["--set", value]
    started = time.time()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"setting {name!r} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return read_run(out, overrides, started, wall)


def read_run(out: Path, overrides: list[str], started: float, wall: float | None) -> dict:
    """One setting's entry from a run directory: its curve (``metrics.jsonl``) and what ran
    (``recipe.resolved.yaml``)."""
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    from trl_reasoning.config.recipe import load_recipe

    resolved = load_recipe(out / "recipe.resolved.yaml").to_dict()  # what ran, as the run resolved it
    ran = {"data": resolved["data"], "trainer": resolved["trainer"], "rewards": resolved["rewards"],
           "eval": {k: v for k, v in resolved["eval"].items() if k != "every_steps"}}
    trained = [line["step"] for line in lines if "reward" in line]
    return {"overrides": overrides, "ran": ran, **curve_from_metrics(lines, started),
            "last_trained_step": max(trained, default=0),
            "train": [{"step": line["step"], "loss": line.get("loss"), "reward": line.get("reward"),
                       "entropy": line.get("entropy"), "completion_tokens": line.get("completions/mean_length")}
                      for line in lines if "reward" in line],
            "process_wall_s": None if wall is None else round(wall, 1)}


def run_started(out: Path) -> tuple[float, float | None]:
    """When a finished or stopped run started (epoch seconds) and its wall time if it finished: a finished run's
    ``results.json`` gives ``elapsed_s`` (written at its end); a stopped one still holds its output-dir lock."""
    results = out / "results.json"
    if results.exists():
        elapsed = json.loads(results.read_text())["elapsed_s"]
        return results.stat().st_mtime - elapsed, elapsed
    from datetime import datetime

    lock = json.loads((out / ".trl-reasoning.lock").read_text())
    return datetime.strptime(lock["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp(), None


def step_times(names: list[str], steps: int, repeats: int, workdir: Path) -> dict:
    """Seconds per optimizer step of each setting (no held-out evaluation), the settings interleaved ``repeats``
    times (A B A B ...) so a drift of the machine's speed falls on both; the pooled median over every step after
    the first (which warms up), and each run's per-step losses (the settings' training paths compared)."""
    import statistics

    runs: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names:
            out = workdir / f"{name}-timing-{repeat}"
            command = [sys.executable, "-m", "trl_reasoning.cli.main", "run", str(RECIPE), "--output-dir", str(out),
                       "--no-plots", "--set", "eval.before=false", "--set", "eval.after=false",
                       "--set", f"trainer.max_steps={steps}"]
            for value in SETTINGS[name]:
                command += ["--set", value]
            started = time.time()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"setting {name!r} failed ({done.returncode}):\n{done.stderr[-4000:]}")
            lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
            train = [line for line in lines if "reward" in line]
            runs[name].append({"process_wall_s": round(time.time() - started, 1),
                               "step_s": [round(line["step_time"], 2) for line in train],
                               "loss": [line["loss"] for line in train],
                               "grad_norm": [line["grad_norm"] for line in train]})
    summary = {}
    for name, items in runs.items():
        pooled = [t for item in items for t in item["step_s"][1:]]
        summary[name] = {"overrides": SETTINGS[name], "runs": items, "median_step_s": statistics.median(pooled)}
    first = names[0]
    for name in names[1:]:
        summary[name]["step_time_ratio_vs_" + first] = round(summary[name]["median_step_s"]
                                                             / summary[first]["median_step_s"], 3)
        summary[name]["same_losses_as_" + first] = all(a["loss"] == b["loss"] for a, b in
                                                        zip(runs[name], runs[first]))
    return {"steps": steps, "repeats": repeats, "settings": summary}


def operating_point() -> dict:
    import torch

    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.versions import versions_of

    recipe = load_recipe(RECIPE)
    return {"recipe": str(RECIPE.relative_to(ROOT)), "model": recipe.model.name_or_path, "seed": recipe.seed,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "heldout_problems": recipe.eval.limit,
            "versions": versions_of(["torch", "transformers", "trl", "accelerate"], python=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, of {', '.join(SETTINGS)}")
    parser.add_argument("--steps", type=int, default=None, help="trainer.max_steps (default: the recipe's)")
    parser.add_argument("--every", type=int, default=5, help="held-out evaluation every N steps")
    parser.add_argument("--exclusive", action="store_true", help="nothing else ran: record the wall times")
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument("--from-run", type=Path, default=None, metavar="DIR",
                        help="record the one setting named in --settings from a run directory already there (e.g. "
                             "runs/quickstart after `make demo`; a stopped run gives the points it reached)")
    parser.add_argument("--step-times", type=int, default=0, metavar="REPEATS",
                        help="instead of curves: seconds per step, the settings interleaved REPEATS times "
                             "(--steps steps each, default 4; needs --exclusive)")
    parser.add_argument("--merge", type=Path, nargs="*", default=[], help="fold other result files' settings in")
    args = parser.parse_args()
    if args.merge:
        result = json.loads(args.output.read_text()) if args.output.exists() else {"settings": {}}
        for path in args.merge:
            result["settings"].update(json.loads(path.read_text())["settings"])
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        return
    names = [n for n in args.settings.split(",") if n]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    result = json.loads(args.output.read_text()) if args.output.exists() else {"settings": {}}
    result["operating_point"] = operating_point()
    if args.step_times:
        if not args.exclusive:
            raise SystemExit("--step-times measures wall time: run it with the machine to itself and --exclusive")
        with tempfile.TemporaryDirectory(prefix="quickstart-steps-") as tmp:
            result["step_times"] = step_times(names, args.steps or 4, args.step_times, Path(tmp))
        print(json.dumps({n: v["median_step_s"] for n, v in result["step_times"]["settings"].items()}))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        return
    if args.from_run is not None:
        if len(names) != 1:
            raise SystemExit("--from-run records one setting: name it with --settings")
        started, wall = run_started(args.from_run)
        entry = read_run(args.from_run, SETTINGS[names[0]], started, wall)
        entry["wall_clock_exclusive"] = args.exclusive
        entry["max_steps"] = args.steps
        entry["from_run"] = str(args.from_run)
        if not args.exclusive:
            entry.pop("process_wall_s")
            entry.pop("mean_step_s")
            entry.pop("eval_seconds_excluded")
            for point in entry["points"]:
                point.pop("wall_s")
        result["settings"][names[0]] = entry
        print(names[0], json.dumps(entry["points"]))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        return
    with tempfile.TemporaryDirectory(prefix="quickstart-curve-") as tmp:
        for name in names:
            entry = run_setting(name, SETTINGS[name], args.steps, args.every, Path(tmp))
            entry["wall_clock_exclusive"] = args.exclusive
            if not args.exclusive:  # wall times of a shared machine measure the other jobs too
                entry.pop("process_wall_s")
                entry.pop("mean_step_s")
                entry.pop("eval_seconds_excluded")
                for point in entry["points"]:
                    point.pop("wall_s")
            entry["max_steps"] = args.steps
            result["settings"][name] = entry
            print(name, json.dumps(entry["points"]))
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
