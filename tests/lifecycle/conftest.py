"""Fixtures of the lifecycle tests: the probe plugin's entry point for subprocesses, and one finished run (3 steps,
KL logged, the probe active) that the report and push tests read."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # lifecycle_helpers, lifecycle_probe

from lifecycle_helpers import probe_manager, resume_recipe  # noqa: E402


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory) -> Path:
    """A folder for PYTHONPATH with the probe module and a dist-info declaring its ``trl_reasoning`` entry point,
    so `trl-reason` in a subprocess discovers it like an installed plugin (nothing is installed into the venv)."""
    site = tmp_path_factory.mktemp("probe-site")
    shutil.copy(HERE / "lifecycle_probe.py", site / "lifecycle_probe.py")
    shutil.copy(HERE / "lifecycle_step_probe.py", site / "lifecycle_step_probe.py")
    info = site / "trl_reason_lifecycle_probe-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trl-reason-lifecycle-probe\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[trl_reasoning]\nlifecycle_probe = lifecycle_probe\n"
                                           "lifecycle_step_probe = lifecycle_step_probe\n")
    return site


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_model_path) -> Path:
    """The output dir of a finished uninterrupted run of `resume_recipe` (4 steps, checkpoints 2 and 4, KL logged,
    the probe active). The probe's records are in `<output_dir>/../probe-logs`. The resume test compares against
    it; the report and push tests read it."""
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    root = tmp_path_factory.mktemp("finished")
    output, logs = root / "run", root / "probe-logs"
    logs.mkdir()
    recipe = recipe_from_dict(resume_recipe(tiny_model_path, output))
    recipe.description = "lifecycle test run"
    previous = os.environ.get("LIFECYCLE_PROBE_LOG_DIR")
    os.environ["LIFECYCLE_PROBE_LOG_DIR"] = str(logs)
    try:
        run_recipe(recipe, pm=probe_manager())
    finally:
        if previous is None:
            del os.environ["LIFECYCLE_PROBE_LOG_DIR"]
        else:
            os.environ["LIFECYCLE_PROBE_LOG_DIR"] = previous
    return output
