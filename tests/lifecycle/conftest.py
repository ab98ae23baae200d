"""Fixtures of the lifecycle tests: the probe plugin's entry point for subprocesses, and one finished run (3 steps,
KL logged, the probe active) that the report and push tests read."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # lifecycle_helpers, lifecycle_probe

from lifecycle_helpers import lifecycle_recipe, probe_manager  # noqa: E402


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory) -> Path:
    """A folder for PYTHONPATH with the probe module and a dist-info declaring its ``trl_reasoning`` entry point,
    so `trl-reason` in a subprocess discovers it like an installed plugin (nothing is installed into the venv)."""
    site = tmp_path_factory.mktemp("probe-site")
    shutil.copy(HERE / "lifecycle_probe.py", site / "lifecycle_probe.py")
    info = site / "trl_reason_lifecycle_probe-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trl-reason-lifecycle-probe\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[trl_reasoning]\nlifecycle_probe = lifecycle_probe\n")
    return site


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_model_path) -> Path:
    """A finished 3-step run (checkpoint-3 saved) with KL (beta > 0) and the probe's metric logged; its output dir."""
    from trl_reasoning.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    output = tmp_path_factory.mktemp("finished") / "run"
    recipe = recipe_from_dict(lifecycle_recipe(tiny_model_path, output, max_steps=3, save_steps=3, beta=0.05,
                                               max_completion_length=12))
    recipe.description = "lifecycle test run"
    run_recipe(recipe, pm=probe_manager())
    return output
