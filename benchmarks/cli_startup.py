"""How long ``trl-reason --help`` takes: the median of 5 runs, each a fresh process (cold interpreter).

    .venv/bin/python benchmarks/cli_startup.py            # writes benchmarks/results/cli_startup.json
    .venv/bin/python benchmarks/cli_startup.py --runs 9

Timed, each in a new process started from the installed console script or interpreter:

* ``trl-reason --help``: what a user waits for (every installed plugin is discovered: its entry-point module is
  imported, so a plugin that imports torch at module level costs every command ~2 s of CPU);
* ``trl-reason plugins --json`` and ``trl-reason recipes --json``: the two listing commands;
* ``eager_import_chain``: ``import torch, transformers, trl, peft, datasets, sympy`` plus trl-reasoning's trainers,
  which is what ``--help`` imported before the plugins and the CLI imported lazily (the "before" figure,
  reproduced without checking out the old code).

Wall-clock and CPU (user + system of the child) are both reported: the machines this project runs on are shared,
so the wall-clock median moves with the load (recorded as the 1-minute load average); CPU time does not. The OS
file cache stays warm between runs (emptying it needs root and slows every other process on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cli_startup.json"
TARGET_SECONDS = 2.0
EAGER_CHAIN = ("import torch, transformers, trl, peft, datasets, sympy; import trl_reasoning.trainers; "
               "import trl_reasoning.cli.main")


def timed_once(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; a failing command stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=os.path.expanduser("~"))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(command: list[str], runs: int, env: dict) -> dict:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = timed_once(command, env)
        walls.append(wall)
        cpus.append(cpu)
    return {"command": " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command)),
            "runs": runs, "median_wall_s": round(statistics.median(walls), 3),
            "median_cpu_s": round(statistics.median(cpus), 3), "wall_s": [round(w, 3) for w in walls],
            "cpu_s": [round(c, 3) for c in cpus]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    script = shutil.which("trl-reason", path=str(Path(sys.executable).parent)) or "trl-reason"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cases = {
        "help": [script, "--help"],
        "plugins_json": [script, "plugins", "--json"],
        "recipes_json": [script, "recipes", "--json"],
        "eager_import_chain": [sys.executable, "-c", EAGER_CHAIN],
    }
    load_before = os.getloadavg()[0]
    results = {name: measure(command, args.runs, env) for name, command in cases.items()}
    help_result = results["help"]
    report = {
        "what": "trl-reason --help and the listing commands, median of fresh processes; eager_import_chain is the "
                "import set --help paid before the lazy imports (the 'before' figure)",
        "target_s": TARGET_SECONDS,
        "help_median_cpu_s": help_result["median_cpu_s"],
        "help_median_wall_s": help_result["median_wall_s"],
        "meets_target_cpu": help_result["median_cpu_s"] < TARGET_SECONDS,
        "results": results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2)},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    for name, result in results.items():
        print(f"{name:20s} median wall {result['median_wall_s']:7.3f} s   cpu {result['median_cpu_s']:7.3f} s")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
