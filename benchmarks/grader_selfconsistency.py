"""Self-consistency sweep over every data file: each reference against its own solution's last box
and its re-rendered forms (`trl_reasoning.grading.rerender`).

    .venv/bin/python benchmarks/grader_selfconsistency.py      # writes benchmarks/results/grader_selfconsistency.json

Per file: pairs, rate of equal verdicts, and the list of exceptions (id, reference, form, reason).
Rows the data README marks as repaired (`answer_raw`) are not compared with their solution's box,
which still holds the unrepaired, code-style answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_DATA_DIR = "set TRL_REASONING_DATA_DIR to the folder with the full benchmark files (math500.jsonl, ...)"
sys.path.insert(0, str(ROOT))

from trl_reasoning.data.sources import read_rows  # noqa: E402
from trl_reasoning.grading import grade_many  # noqa: E402
from trl_reasoning.grading.rerender import selfconsistency_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=max(2, min(4, os.cpu_count() or 1)))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "grader_selfconsistency.json"))
    args = parser.parse_args()
    directory = Path(os.environ.get("TRL_REASONING_DATA_DIR") or sys.exit(NO_DATA_DIR)).resolve()
    report = {}
    for path in sorted(directory.glob("*.jsonl")):
        rows = read_rows(path)
        pairs = selfconsistency_pairs(rows)
        start = time.perf_counter()
        verdicts = grade_many([(p[1], p[2]) for p in pairs], processes=args.processes, timeout=10)
        seconds = time.perf_counter() - start
        exceptions = [
            {"id": p[0], "reference": p[1], "answer": p[2], "kind": p[3], "reason": v.reason}
            for p, v in zip(pairs, verdicts)
            if not v.equal
        ]
        report[path.stem] = {
            "rows": len(rows),
            "pairs": len(pairs),
            "rate": round(1 - len(exceptions) / max(1, len(pairs)), 5),
            "seconds": round(seconds, 2),
            "exceptions": exceptions,
        }
        print(f"{path.stem:16s} rows={len(rows):5d} pairs={len(pairs):5d} rate={report[path.stem]['rate']:.4f} "
              f"exceptions={len(exceptions)} ({seconds:.1f} s)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
