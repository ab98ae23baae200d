r"""This grader side by side with math-verify, on the same pairs in one run: CPU seconds, wall time, agreement.

    TRL_REASONING_DATA_DIR=/path/to/data .venv/bin/python benchmarks/grader.py   # writes benchmarks/results/grader.json
    TRL_REASONING_DATA_DIR=/path/to/data .venv/bin/python benchmarks/grader.py --pairs 500 --out /tmp/grader.json

math-verify cannot share our environment (its latex2sympy2_extended pins a different antlr runtime than
latex2sympy2), so the script builds it in its own virtual environment under the cache directory
(`$XDG_CACHE_HOME/trl-reasoning/math-verify-<version>`, created with `python -m venv` and `pip install
math-verify==<version>` when absent) and runs it there in a child process, on the main thread, with its
documented API and defaults: `verify(parse(gold), parse(response))`, the gold wrapped in `$...$` when it has
no `$` (its README's form), each distinct gold parsed once per run (as we do too).

Two sets, both from `benchmarks/grader_cases.py`:

* **model-like** (throughput): `--pairs` responses (default 2,800) drawn with a fixed seed from the six
  benchmarks' references with generated phrasings (boxed, unboxed, wrong, truncated, prose);
* **labelled** (agreement): `tests/grading/response_cases.jsonl`, labelled by construction plus hand cases.

Each grader grades each set serially (ours: `grade_many(..., processes=1, responses=True)` with a warm
worker; math-verify: one loop). CPU seconds are the grader's whole cost: for ours the main process plus its
grading worker (read from `/proc`), for math-verify its process. Both are measured in the same run, so the
ratios hold on a shared machine even when the absolute numbers move; the load average is recorded.
Every disagreement (ours vs math-verify, and each grader vs the labels) goes to
`benchmarks/results/grader_disagreements.jsonl` for review.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from grader_cases import CASES_FILE, data_dir, model_like_pairs  # noqa: E402

from trl_reasoning.grading import grade_many  # noqa: E402
from trl_reasoning.grading.timeout import get_pool  # noqa: E402

MATH_VERIFY_VERSION = "0.9.0"
WRONG_CATEGORIES = {"wrong", "truncated", "prose"}

# runs inside math-verify's own environment: grade [gold, response] pairs, report verdicts and costs
MATH_VERIFY_RUNNER = r'''
import json, sys, time
from math_verify import parse, verify

pairs = json.load(open(sys.argv[1], encoding="utf-8"))
verify(parse("$1$"), parse("1"))  # imports and first-use set-up, not timed
golds, verdicts, errors = {}, [], 0
cpu, wall = time.process_time(), time.perf_counter()
for reference, response in pairs:
    try:
        gold = golds.get(reference)
        if gold is None:
            gold = golds[reference] = parse(reference if "$" in reference else "$" + reference + "$")
        verdicts.append(bool(verify(gold, parse(response))))
    except Exception:
        errors += 1
        verdicts.append(False)
print(json.dumps({"verdicts": verdicts, "cpu_seconds": time.process_time() - cpu,
                  "wall_seconds": time.perf_counter() - wall, "errors": errors}))
'''


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trl-reasoning"


def math_verify_python(version: str = MATH_VERIFY_VERSION) -> Path:
    """The interpreter of math-verify's own virtual environment, built on first use."""
    venv = cache_dir() / f"math-verify-{version}"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import math_verify, importlib.metadata as m; print(m.version('math-verify'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == version:
        return python
    print(f"building math-verify {version} in {venv} (once) ...", file=sys.stderr)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"math-verify=={version}"], check=True)
    installed = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()
    if installed != version:
        raise SystemExit(f"math-verify {version} did not install (got {installed!r})")
    return python


def run_math_verify(python: Path, pairs: list[tuple[str, str]]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.json"
        path.write_text(json.dumps(pairs), encoding="utf-8")
        done = subprocess.run([str(python), "-c", MATH_VERIFY_RUNNER, str(path)], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"math-verify run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(pairs: list[tuple[str, str]]) -> dict:
    pool = get_pool(1)
    pool.warm()
    grade_many([("1", "1"), ("x+1", "1+x")], processes=1)  # first-use set-up, not timed (as for math-verify)
    cpu, worker_cpu, wall = time.process_time(), pool.cpu_seconds(), time.perf_counter()
    verdicts = grade_many(pairs, processes=1, responses=True, timeout=5.0)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    worker_cpu = pool.cpu_seconds() - worker_cpu
    return {
        "verdicts": [verdict.equal for verdict in verdicts],
        "reasons": [verdict.reason for verdict in verdicts],
        "cpu_seconds": cpu + worker_cpu,
        "main_process_cpu_seconds": cpu,
        "worker_cpu_seconds": worker_cpu,
        "wall_seconds": wall,
    }


def agreement(cases: list[dict], verdicts: list[bool]) -> dict:
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case, verdict in zip(cases, verdicts):
        by_category[case["category"]][0] += verdict == case["equal"]
        by_category[case["category"]][1] += 1
    equal = [verdict for case, verdict in zip(cases, verdicts) if case["equal"]]
    unequal = [verdict for case, verdict in zip(cases, verdicts) if not case["equal"]]
    accepted = Counter(case["category"] for case, verdict in zip(cases, verdicts) if verdict and not case["equal"])
    equal_rate = sum(equal) / len(equal)
    unequal_rate = 1 - sum(unequal) / len(unequal)
    return {
        "accuracy": round(sum(verdict == case["equal"] for case, verdict in zip(cases, verdicts)) / len(cases), 4),
        "balanced_accuracy": round((equal_rate + unequal_rate) / 2, 4),
        "equal_accepted": round(equal_rate, 4),
        "unequal_rejected": round(unequal_rate, 4),
        "accepted_wrong_by_category": dict(accepted),
        "accepted_wrong_truncated_or_prose": accepted.get("truncated", 0) + accepted.get("prose", 0),
        "by_category": {category: f"{right}/{total}" for category, (right, total) in sorted(by_category.items())},
    }


def throughput(result: dict, count: int) -> dict:
    return {
        "cpu_seconds": round(result["cpu_seconds"], 3),
        "wall_seconds": round(result["wall_seconds"], 3),
        "pairs_per_cpu_second": round(count / result["cpu_seconds"], 1),
        "pairs_per_wall_second": round(count / result["wall_seconds"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2800, help="model-like pairs for the throughput set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grader.json"))
    args = parser.parse_args()
    python = math_verify_python()
    model_like = model_like_pairs(data_dir(), seed=args.seed)
    model_like = random.Random(args.seed).sample(model_like, min(args.pairs, len(model_like)))
    with CASES_FILE.open(encoding="utf-8") as handle:
        labelled = [json.loads(line) for line in handle if line.strip()]
    load_before = os.getloadavg()
    results = {}
    for name, cases in (("model_like", model_like), ("labelled", labelled)):
        pairs = [(case["reference"], case["response"]) for case in cases]
        # alternate the order of the two graders between the sets, so neither always runs on a warmer machine
        order = ("ours", "math_verify") if name == "model_like" else ("math_verify", "ours")
        for grader in order:
            results[name, grader] = run_ours(pairs) if grader == "ours" else run_math_verify(python, pairs)
    load_after = os.getloadavg()

    disagreements = []
    for name, cases in (("model_like", model_like), ("labelled", labelled)):
        ours, theirs = results[name, "ours"], results[name, "math_verify"]
        for index, case in enumerate(cases):
            mine, other = ours["verdicts"][index], theirs["verdicts"][index]
            if mine != other or mine != case["equal"]:
                disagreements.append({
                    "set": name, "category": case["category"], "source": case["source"], "label": case["equal"],
                    "ours": mine, "ours_reason": ours["reasons"][index], "math_verify": other,
                    "reference": case["reference"], "response_end": case["response"][-600:],
                })
    out = Path(args.out)
    review = out.with_name(out.stem + "_disagreements.jsonl")
    review.parent.mkdir(parents=True, exist_ok=True)
    review.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in disagreements), encoding="utf-8")

    speed = {grader: throughput(results["model_like", grader], len(model_like)) for grader in ("ours", "math_verify")}
    summary = {
        "command": "benchmarks/grader.py " + " ".join(sys.argv[1:]),
        "math_verify_version": MATH_VERIFY_VERSION,
        "machine": {"cpu_count": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in load_after]},
        "model_like": {
            "pairs": len(model_like),
            "categories": dict(Counter(case["category"] for case in model_like)),
            "throughput": speed,
            "cpu_speedup_vs_math_verify": round(speed["math_verify"]["cpu_seconds"] / speed["ours"]["cpu_seconds"], 2),
            "wall_speedup_vs_math_verify": round(speed["math_verify"]["wall_seconds"] / speed["ours"]["wall_seconds"], 2),
            "ours_cpu_split": {"main_process": round(results["model_like", "ours"]["main_process_cpu_seconds"], 3),
                               "worker": round(results["model_like", "ours"]["worker_cpu_seconds"], 3)},
            "ours_reasons": dict(Counter(results["model_like", "ours"]["reasons"])),
            "agreement_with_construction_labels": {
                grader: agreement(model_like, results["model_like", grader]["verdicts"])
                for grader in ("ours", "math_verify")},
            "verdicts_differ": sum(a != b for a, b in zip(results["model_like", "ours"]["verdicts"],
                                                         results["model_like", "math_verify"]["verdicts"])),
            "math_verify_errors": results["model_like", "math_verify"]["errors"],
        },
        "labelled": {
            "cases": len(labelled),
            "agreement": {grader: agreement(labelled, results["labelled", grader]["verdicts"])
                          for grader in ("ours", "math_verify")},
            "throughput": {grader: throughput(results["labelled", grader], len(labelled))
                           for grader in ("ours", "math_verify")},
        },
        "disagreements_file": str(review.relative_to(ROOT)) if review.is_relative_to(ROOT) else str(review),
        "disagreements": len(disagreements),
    }
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
