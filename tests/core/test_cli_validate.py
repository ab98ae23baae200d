"""`trl-reason validate RECIPE` names every problem of a recipe at once, with its key path and the fix, and exits
2 before anything loads; a valid recipe exits 0 with a short summary (issue #17, "what must be shown")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trl_reasoning.cli.main import main
from trl_reasoning.config.recipe import LoraSection, recipe_from_dict
from trl_reasoning.config.schema import (ConfigError, ConfigErrors, ErrorCollector, FieldError, build_dataclass,
                                        build_partial)

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("trl-reason")

# Three mistakes, each found by a different check: a section key (the recipe loader), a trainer range (the
# algorithm's config class), a reward option (the reward factory's signature). The model is never loaded: it does
# not exist, and the Hub is offline.
THREE_MISTAKES = """
    model: {name_or_path: nowhere/never-loaded, dtyp: bfloat16}
    trainer: {algorithm: grpo, learning_rate: -1.0e-6, max_steps: 2}
    rewards:
      - {name: correctness, config: {strictt: true}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_three_mistakes_are_all_named_through_the_console_script(tmp_path):
    path = write(tmp_path, THREE_MISTAKES)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TRL_REASONING_TEST_MODEL", None)
    proc = subprocess.run([str(CONSOLE_SCRIPT), "validate", str(path)], capture_output=True, text=True,
                          timeout=300, env=env)
    err = " ".join(proc.stderr.split())  # the console wraps long lines
    assert proc.returncode == 2, proc.stderr
    assert "has 3 problems" in err
    assert "model.dtyp: unknown key; did you mean 'dtype'?" in err
    assert "trainer.learning_rate: must be > 0, got -1e-06" in err
    assert "rewards[0].config.strictt: unknown key" in err and "valid keys:" in err
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "recipe is valid" not in proc.stdout


def test_a_valid_recipe_exits_0_with_a_summary(capsys):
    assert main(["validate", "quickstart", "--set", "trainer.max_steps=2"]) == 0
    out = capsys.readouterr().out
    assert "recipe is valid" in out
    assert "algorithm: grpo" in out and "rewards: boxed_integer" in out


def test_plugin_composition_and_eval_problems_are_collected_with_the_rest(tmp_path, capsys):
    path = write(tmp_path, """
        trainer: {algorithm: grpo, num_generations: 1}
        rewards: [{name: boxed_integer, wieght: 2}]
        plugins:
          hapo: {wieght: 0.5}
          nosuchplugin: {}
        eval: {every_steps: -1}
    """)
    assert main(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    for key in ("rewards[0].wieght", "plugins.hapo.wieght", "plugins.nosuchplugin", "eval.every_steps",
                "trainer.num_generations"):
        assert key in err, key
    assert "has 5 problems" in err


def test_rewards_under_a_trainer_without_rollouts_are_refused(tmp_path, capsys):
    path = write(tmp_path, """
        trainer: {algorithm: sft, completion_column: solution}
        rewards: [{name: boxed_integer}]
    """)
    assert main(["validate", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "rewards: the 'sft' trainer calls no reward" in err


def test_validate_fields_reports_every_key_of_a_mapping():
    with pytest.raises(ConfigErrors) as caught:
        build_dataclass(LoraSection, {"r": 0, "alpah": 8, "dropout": 1.5}, "model.lora")
    assert [e.path for e in caught.value.errors] == ["model.lora.r", "model.lora.alpah", "model.lora.dropout"]
    assert isinstance(caught.value, ConfigError)  # every `except ConfigError` (exit 2) still catches it


def test_one_problem_is_a_plain_config_error():
    with pytest.raises(ConfigError) as caught:
        build_dataclass(LoraSection, {"r": 0}, "model.lora")
    assert not isinstance(caught.value, ConfigErrors)
    assert str(caught.value) == "model.lora.r: must be >= 1, got 0"


def test_a_field_error_of_post_init_gets_the_section_path():
    with pytest.raises(ConfigError) as caught:
        recipe_from_dict({"model": {"pure_bf16": True}})
    assert caught.value.path == "model.pure_bf16"
    assert issubclass(FieldError, ValueError)


def test_build_partial_keeps_the_good_keys_and_records_the_bad():
    errors = ErrorCollector()
    lora = build_partial(LoraSection, {"r": 8, "alpha": -1, "dropuot": 0.1}, "model.lora", errors)
    assert (lora.r, lora.alpha) == (8, 32)  # the wrong alpha left at its default
    assert [e.path for e in errors.errors] == ["model.lora.alpha", "model.lora.dropuot"]


def test_collecting_recipe_errors_returns_a_recipe_to_check_further():
    errors: list[ConfigError] = []
    recipe = recipe_from_dict({"seed": -1, "data": {"limit": 0}, "trainer": {"max_steps": 3}}, errors=errors)
    assert [e.path for e in errors] == ["seed", "data.limit"]  # in the order of the recipe's keys
    assert recipe.trainer["max_steps"] == 3 and recipe.seed == 42
