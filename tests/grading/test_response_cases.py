"""The labelled response set: whole model-like responses, graded as labelled, no wrong answer accepted.

`response_cases.jsonl` is written by `benchmarks/grader_cases.py` (benchmark references with generated
response phrasings, labelled by construction, plus hand-written equivalence cases); see its docstring.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from trl_reasoning.grading import grade_many

CASES = Path(__file__).with_name("response_cases.jsonl")


def load_cases() -> list[dict]:
    with CASES.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_response_cases_are_graded_as_labelled():
    cases = load_cases()
    verdicts = grade_many([(case["reference"], case["response"]) for case in cases], processes=2, timeout=10,
                          responses=True)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses, accepted_wrong = [], []
    for case, verdict in zip(cases, verdicts):
        totals[case["category"]][1] += 1
        if verdict.equal == case["equal"]:
            totals[case["category"]][0] += 1
        else:
            misses.append((case["category"], case["reference"], case["response"][-120:], verdict.reason))
            if verdict.equal:
                accepted_wrong.append(misses[-1])
    print("\nper-category accuracy:")
    for category, (right, total) in sorted(totals.items()):
        print(f"  {category:12s} {right:4d}/{total:<4d} {right / total:7.1%}")
    for miss in misses:
        print("  MISS", miss)
    # precision: a truncated, prose or wrong response is never accepted
    assert not accepted_wrong, accepted_wrong
    right = sum(value[0] for value in totals.values())
    assert right / len(cases) >= 0.97, misses
