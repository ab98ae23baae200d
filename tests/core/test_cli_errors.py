"""What the CLI prints when something other than the recipe is wrong (issue #21): unreadable model weights are one
line and exit 2; a bug (here: in a user's reward, allowed with --allow-imports) is one line saying so and exit 1,
with the traceback only behind ``trl-reason -v``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from trl_reasoning.testing import TINY_TRAINER


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def _recipe(tmp_path: Path, model_dir: str, **trainer) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name_or_path": model_dir},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4}},
        "trainer": {**TINY_TRAINER, "max_steps": 1, **trainer},
        "rewards": [{"name": "buggy_rewards.BuggyReward"}],
    }))
    return path


BUGGY = textwrap.dedent("""
    class BuggyReward:
        def __init__(self):
            self.scale = 1 / 0   # the bug

        def __call__(self, prompts, completions, completion_ids=None, **kwargs):
            return [0.0 for _ in completions]
""")


def test_a_bug_is_one_line_and_the_traceback_is_behind_verbose(tmp_path, tiny_model_path):
    (tmp_path / "buggy_rewards.py").write_text(BUGGY)
    recipe = _recipe(tmp_path, tiny_model_path)
    proc = _cli(["run", str(recipe), "--output-dir", str(tmp_path / "out"), "--allow-imports", "buggy_rewards"],
                tmp_path)
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower() and "Warning" not in line]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert len(errors) == 1 and errors[0].startswith("internal error"), errors
    assert "ZeroDivisionError: division by zero" in errors[0] and "trl-reason -v" in errors[0]
    verbose = _cli(["-v", "run", str(recipe), "--output-dir", str(tmp_path / "out2"), "--allow-imports",
                    "buggy_rewards"], tmp_path)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "self.scale = 1 / 0" in verbose.stderr


def test_unreadable_model_weights_with_a_reference_model_are_one_line(tmp_path, tiny_model_path):
    corrupt = tmp_path / "corrupt-model"
    shutil.copytree(tiny_model_path, corrupt)
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"model": {"name_or_path": str(corrupt)},
                                      "data": {"options": {"n_train": 16, "n_test": 4}},
                                      "trainer": {**TINY_TRAINER, "max_steps": 1, "beta": 0.1},
                                      "rewards": [{"name": "boxed_integer"}]}))
    proc = _cli(["run", str(recipe), "--output-dir", str(tmp_path / "out")], tmp_path)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert len(errors) == 1 and "cannot load the model: SafetensorError" in errors[0], errors
    assert "corrupt or incomplete" in errors[0]
