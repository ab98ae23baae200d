"""The hand-labelled equivalence set: at least 99% of pairs graded as labelled, per-category report."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from trl_reasoning.grading import grade_many

CASES = Path(__file__).with_name("equivalence_cases.jsonl")


def load_cases() -> list[dict]:
    with CASES.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_case_file_is_large_and_balanced():
    cases = load_cases()
    assert len(cases) >= 300
    for category in {case["category"] for case in cases} - {"no_answer_unparseable"}:
        labels = {case["equal"] for case in cases if case["category"] == category}
        assert labels == {True, False}, f"category {category!r} needs both equal and unequal pairs"


def test_labelled_pairs_agree_at_least_99_percent():
    cases = load_cases()
    verdicts = grade_many([(case["reference"], case["answer"]) for case in cases], processes=2, timeout=10)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses = []
    for case, verdict in zip(cases, verdicts):
        totals[case["category"]][1] += 1
        if verdict.equal == case["equal"]:
            totals[case["category"]][0] += 1
        else:
            misses.append((case["category"], case["reference"], case["answer"], case["equal"], verdict.reason))
    print("\nper-category accuracy:")
    for category, (right, total) in sorted(totals.items()):
        print(f"  {category:28s} {right:4d}/{total:<4d} {right / total:7.1%}")
    for miss in misses:
        print("  MISS", miss)
    right = sum(value[0] for value in totals.values())
    accuracy = right / len(cases)
    print(f"  {'overall':28s} {right:4d}/{len(cases):<4d} {accuracy:7.1%}")
    assert accuracy >= 0.99, misses
