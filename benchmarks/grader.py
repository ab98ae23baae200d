"""Grader speed on MATH-500 answers: pairs per second, one process vs the pool.

    .venv/bin/python benchmarks/grader.py                       # writes benchmarks/results/grader.json
    .venv/bin/python benchmarks/grader.py --processes 4 --out /tmp/grader.json

Pairs: each MATH-500 reference against (a) its solution's last box and a re-rendered form (equal
pairs) and (b) perturbed forms (a changed digit, a flipped sign: unequal pairs). Each mode grades
the same pairs with a warm pool, so worker start-up is excluded. Also reports the share of pairs
decided inline (no worker) and the verdict reasons.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trl_reasoning.grading import extract_answer, grade_many  # noqa: E402
from trl_reasoning.grading.rerender import rerenderings  # noqa: E402
from trl_reasoning.grading.timeout import get_pool  # noqa: E402


# reasons that `grade` can reach without a worker (an estimate: `string` and `numeric` can also come from one)
INLINE = {"string", "numeric", "choice", "no-answer"}


def data_dir() -> Path:
    return Path(os.environ.get("TRL_REASONING_DATA_DIR") or (ROOT / ".." / "shared" / "data")).resolve()


def perturb(answer: str) -> str:
    digits = re.search(r"\d", answer)
    if digits:
        index = digits.start()
        return answer[:index] + str((int(answer[index]) + 1) % 10) + answer[index + 1:]
    return f"-({answer})"


def build_pairs(rows: list[dict]) -> list[tuple[str, str, bool]]:
    pairs = []
    for row in rows:
        reference = row["answer"]
        boxed = extract_answer(row["solution"] or "")
        if boxed:
            pairs.append((reference, boxed, True))
        forms = rerenderings(reference)
        if forms:
            pairs.append((reference, forms[0], True))
        pairs.append((reference, perturb(reference), False))
    return pairs


def timed(pairs, processes: int) -> tuple[float, list]:
    start = time.perf_counter()
    verdicts = grade_many([(reference, answer) for reference, answer, _ in pairs], processes=processes, timeout=10)
    return time.perf_counter() - start, verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=max(2, min(4, os.cpu_count() or 1)))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grader.json"))
    args = parser.parse_args()
    with (data_dir() / "math500.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    pairs = build_pairs(rows)
    # each mode gets fresh, already started workers: no start-up time and no parse cache carried over
    pool = get_pool(1)
    pool.warm()
    single_seconds, verdicts = timed(pairs, 1)
    pool.close()
    pool = get_pool(args.processes)
    pool.warm()
    pool_seconds, pool_verdicts = timed(pairs, args.processes)
    pool.close()
    assert [v.equal for v in verdicts] == [v.equal for v in pool_verdicts]
    agreement = sum(v.equal == expected for v, (_, _, expected) in zip(verdicts, pairs)) / len(pairs)
    result = {
        "pairs": len(pairs),
        "equal_pairs": sum(expected for _, _, expected in pairs),
        "cpu_count": os.cpu_count(),
        "single_process": {"seconds": round(single_seconds, 3), "pairs_per_second": round(len(pairs) / single_seconds, 1)},
        "pool": {
            "processes": args.processes,
            "seconds": round(pool_seconds, 3),
            "pairs_per_second": round(len(pairs) / pool_seconds, 1),
        },
        "pool_speedup": round(single_seconds / pool_seconds, 2),
        "label_agreement": round(agreement, 4),
        "reasons": dict(Counter(v.reason for v in verdicts)),
        "decided_inline_share": round(sum(v.reason in INLINE for v in verdicts) / len(pairs), 3),
        "math_verify": "not measured: math-verify pins an antlr runtime that conflicts with latex2sympy2's; "
        "building it in a separate venv was left out of this run",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
