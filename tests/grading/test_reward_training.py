"""The correctness reward inside a real TRL GRPO run: its metrics reach the run's metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def test_correctness_metrics_reach_the_training_log(make_recipe, run_recipe_steps, tmp_path):
    recipe = make_recipe(rewards=[{"name": "correctness", "config": {"timeout": 5.0}}])
    run_recipe_steps(recipe, steps=1, output_dir=tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines() if line.strip()]
    logged = [row for row in rows if "correctness/timeouts" in row]
    assert logged, f"no correctness/timeouts in {sorted({key for row in rows for key in row})}"
    # TRL averages what the reward logs over the logging window; the tiny model boxes nothing
    assert all(row["correctness/timeouts"] == 0.0 for row in logged)
    assert all(0.0 <= row["correctness/extract_fail_rate"] <= 1.0 for row in logged)
