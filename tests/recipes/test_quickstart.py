"""The quickstart recipe against its measurement: every value it sets is explained in its header, and the figures
the header quotes are those of ``benchmarks/results/quickstart.json``. Also the curve arithmetic of
``benchmarks/quickstart_curve.py`` (held-out points, evaluation time left out)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from trl_reasoning.config.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipes" / "quickstart.yaml"
RESULT = ROOT / "benchmarks" / "results" / "quickstart.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

import quickstart_curve  # noqa: E402


def header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_every_trainer_and_eval_value_is_explained_in_the_header():
    text = RECIPE.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    top = header(text)
    unexplained = [f"{section}.{key}" for section in ("trainer", "eval") for key in raw[section]
                   if key not in ("algorithm", "logging_steps", "before", "after") and key not in top]
    assert not unexplained, f"recipes/quickstart.yaml's header must say why it sets {unexplained}"


def measured() -> dict:
    return json.loads(RESULT.read_text(encoding="utf-8"))


def flat_header() -> str:
    return " ".join(header(RECIPE.read_text(encoding="utf-8")).replace("#", " ").split())


def test_the_header_quotes_the_measured_step_times_and_memory():
    result, top = measured(), flat_header()
    steps = result["step_times"]["settings"]
    quoted = (f"{steps['previous_no_checkpointing']['median_step_s']:.1f} s against "
              f"{steps['previous']['median_step_s']:.1f} s a step")
    assert quoted in top, f"the header should quote the measured {quoted!r}"
    assert steps["previous_no_checkpointing"]["same_losses_as_previous"], "the header says the losses are the same"
    memory = result["peak_memory_mib"]
    quoted = f"{memory['previous_no_checkpointing'] / 1024:.1f} GiB instead of {memory['previous'] / 1024:.1f} GiB"
    assert quoted in top, f"the header should quote the measured {quoted!r}"


def test_the_header_quotes_the_measured_learning_curves():
    top = flat_header()
    for name, entry in measured()["settings"].items():
        for point in entry["points"][1:]:
            quoted = f"{100 * point['strict']:.1f}% at step {point['step']}"
            assert quoted in top, f"the header should quote setting {name!r}: {quoted!r}"


@pytest.mark.parametrize("lines, started, points, excluded, step_s", [
    # before training only: its wall time is the whole time since the start (loading + that evaluation)
    ([{"step": 0, "time": 110.0, "heldout/accuracy": 0.25}], 100.0, [(0, 0.25, 10.0)], 0.0, None),
    # an evaluation at step 2 (train line at 130, evaluated by 140): 10 s left out of the later points
    ([{"step": 0, "time": 110.0, "heldout/accuracy": 0.25},
      {"step": 1, "time": 120.0, "reward": 0.1, "step_time": 10.0},
      {"step": 2, "time": 130.0, "reward": 0.2, "step_time": 10.0},
      {"step": 2, "time": 140.0, "heldout/accuracy": 0.5},
      {"step": 3, "time": 150.0, "reward": 0.3, "step_time": 10.0},
      {"step": 4, "time": 160.0, "reward": 0.4, "step_time": 10.0},
      {"step": 4, "time": 175.0, "heldout/accuracy": 0.75}],
     100.0, [(0, 0.25, 10.0), (2, 0.5, 30.0), (4, 0.75, 50.0)], 25.0, 10.0),
    # the order a real run writes: the evaluation's line first, then step 2's train line a moment later
    ([{"step": 0, "time": 110.0, "heldout/accuracy": 0.25},
      {"step": 1, "time": 120.0, "reward": 0.1, "step_time": 10.0},
      {"step": 2, "time": 140.0, "heldout/accuracy": 0.5},
      {"step": 2, "time": 140.5, "reward": 0.2, "step_time": 10.0},
      {"step": 3, "time": 150.5, "reward": 0.3, "step_time": 10.0}],
     100.0, [(0, 0.25, 10.0), (2, 0.5, 29.5)], 10.5, 10.0),
])
def test_curve_points_leave_out_the_periodic_evaluations(lines, started, points, excluded, step_s):
    curve = quickstart_curve.curve_from_metrics(lines, started)
    assert [(p["step"], p["strict"], p["wall_s"]) for p in curve["points"]] == points
    assert curve["eval_seconds_excluded"] == excluded
    assert curve["mean_step_s"] == step_s


def test_every_compared_setting_names_overrides_the_recipe_accepts():
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.run import prepare

    for name, overrides in quickstart_curve.SETTINGS.items():
        prepare(load_recipe(RECIPE, overrides), PluginManager())  # raises ConfigError naming a bad key
