"""The combined recipes (``recipes/combined/``) run two steps on the tiny model through the CLI, and each of their
methods acts (a metric of each is logged)."""

from __future__ import annotations

import json

import pytest

import composition_matrix as M
from trl_reasoning.cli.main import main

RECIPES = {
    "fastcurl-pcl.yaml": ("schedule/level", "pcl/pool_size", "pcl/observed_pass_rate"),
    "questa-hapo.yaml": ("schedule/hint_fraction", "rewards/hapo_length/mean"),
    "one-shot-ppo.yaml": ("critic/value_loss", "entropy"),
}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_combined_recipe_runs_two_steps_and_both_methods_act(name, tmp_path, monkeypatch, tiny_model_path):
    monkeypatch.setenv("TRL_REASONING_TEST_MODEL", tiny_model_path)
    out = tmp_path / "run"
    status = main(["run", str(M.ROOT / "recipes" / "combined" / name), "--output-dir", str(out), "--no-plots",
                   "--set", "trainer.max_steps=2", "--set", "eval.limit=2", "--set", "eval.before=false",
                   "--set", "trainer.max_completion_length=8", "--set", "eval.max_new_tokens=8"])
    assert status == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    logged = {key for row in rows for key in row}
    missing = [key for key in RECIPES[name] if key not in logged]
    assert not missing, (missing, sorted(logged))
