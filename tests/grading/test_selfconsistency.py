"""Every reference equals its own solution's last box and its own re-rendered forms.

MATH-500 runs in full (target 100%); the other files run on a seeded sample of 60 rows (target 99%).
"""

from __future__ import annotations

import random

import pytest

from trl_reasoning.data.sources import read_rows
from trl_reasoning.grading import grade_many
from trl_reasoning.grading.rerender import selfconsistency_pairs

SAMPLED = ["minerva_math", "olympiadbench", "dsr_sub", "gsm8k_test", "aime24", "aime25", "amc23", "amc_aimo83"]


def rate(pairs) -> tuple[float, list]:
    verdicts = grade_many([(reference, answer) for _, reference, answer, _ in pairs], processes=2, timeout=10)
    failures = [(pair, verdict.reason) for pair, verdict in zip(pairs, verdicts) if not verdict.equal]
    return 1 - len(failures) / len(pairs), failures


def test_math500_in_full(shared_data):
    rows = read_rows(shared_data / "math500.jsonl")
    assert len(rows) == 500
    accuracy, failures = rate(selfconsistency_pairs(rows))
    print(f"\nmath500: {accuracy:.2%} of {len(selfconsistency_pairs(rows))} pairs")
    assert failures == []


@pytest.mark.parametrize("name", SAMPLED)
def test_sample_of_other_files(shared_data, name):
    rows = read_rows(shared_data / f"{name}.jsonl")
    sample = random.Random(1234).sample(rows, min(60, len(rows)))
    pairs = selfconsistency_pairs(sample)
    accuracy, failures = rate(pairs)
    print(f"\n{name}: {accuracy:.2%} of {len(pairs)} pairs; failures: {failures}")
    assert accuracy >= 0.99, failures
