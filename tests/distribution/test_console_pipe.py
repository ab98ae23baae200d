"""What a newcomer reads when `trl-reason run` writes to a pipe or a log file: one line per optimizer step, no
upstream FutureWarning; on `--resume`, which checkpoint it resumed from and no `missing keys ['lm_head.weight']`
warning (the tiny model ties its embeddings, as SmolLM2 and Qwen2.5's small models do)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from trl_reasoning.testing import TINY_TRAINER

STEP_LINE = re.compile(r"^step (\d+)/(\d+)  reward \S+  correct \S+  step [\d.]+s  elapsed \S+  remaining \S+$", re.M)


def trl_reason(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("TRL_REASONING_TEST_MODEL", "TRL_REASONING_DEBUG"):
        env.pop(name, None)
    command = [sys.executable, "-m", "trl_reasoning.cli.main", *args]
    return subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)


def test_a_pipe_gets_a_line_per_step_and_resume_says_from_where(tmp_path, tiny_model_path):
    recipe = {
        "model": {"name_or_path": tiny_model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8}},
        "trainer": {**TINY_TRAINER, "max_steps": 3, "save_strategy": "steps", "save_steps": 2,
                    "gradient_checkpointing": True},  # TRL's own FutureWarning path (transformers deprecates it)
        "rewards": [{"name": "boxed_integer", "config": {"lenient_value": 0.5}}],
        "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    first = trl_reason("run", str(path), cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-4000:]
    steps = [(int(a), int(b)) for a, b in STEP_LINE.findall(first.stdout)]
    assert steps == [(1, 3), (2, 3), (3, 3)], first.stdout[-3000:]
    assert "FutureWarning" not in first.stdout and "is deprecated" not in first.stdout
    assert "\r" not in first.stdout  # no redrawn bar in a pipe

    resumed = trl_reason("run", str(path), "--set", "trainer.max_steps=4", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    checkpoint = Path(tmp_path / "run" / "checkpoint-3")
    assert f"resuming from {checkpoint} (step 3)" in resumed.stdout
    assert "missing keys" not in resumed.stdout
    assert [(int(a), int(b)) for a, b in STEP_LINE.findall(resumed.stdout)] == [(4, 4)]



def test_minus_v_shows_the_upstream_warnings_the_default_hides(tmp_path, tiny_model_path):
    """The config is built (transformers warns about `gradient_checkpointing`) before `--resume` finds nothing to
    resume in an empty output directory: a user error, reached without loading a model."""
    recipe = {"model": {"name_or_path": tiny_model_path}, "data": {"train": "embedded:arithmetic"},
              "trainer": {**TINY_TRAINER, "gradient_checkpointing": True},
              "rewards": [{"name": "boxed_integer"}], "output_dir": str(tmp_path / "empty")}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    quiet = trl_reason("run", str(path), "--resume", cwd=tmp_path)
    assert quiet.returncode == 2 and "no complete checkpoint" in quiet.stdout, quiet.stdout[-3000:]
    assert "FutureWarning" not in quiet.stdout
    verbose = trl_reason("-v", "run", str(path), "--resume", cwd=tmp_path)
    assert "FutureWarning" in verbose.stdout and "gradient_checkpointing" in verbose.stdout, verbose.stdout[-3000:]
