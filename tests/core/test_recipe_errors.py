"""Bad input gets one clear message, exit status 2 and no traceback (issue #2, "what must be shown")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.manager import PluginError, PluginManager
from trl_reasoning.config.recipe import load_recipe, recipe_from_dict
from trl_reasoning.run import prepare


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_misspelled_trainer_key_exits_2_naming_path_and_nearest_key(tmp_path, capsys):
    path = write(tmp_path, """
        trainer:
          algorithm: grpo
          learnig_rate: 1.0e-5
        rewards: [{name: boxed_integer}]
    """)
    status = main(["run", str(path), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "trainer.learnig_rate" in err and "learning_rate" in err
    assert "Traceback" not in err


def test_misspelled_key_through_the_real_console_script(tmp_path):
    path = write(tmp_path, """
        trainer: {algorithm: grpo, learnig_rate: 1.0e-5}
        rewards: [{name: boxed_integer}]
    """)
    proc = subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "trainer.learnig_rate" in proc.stderr and "learning_rate" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("data, path, nearest", [
    ({"modle": {}}, "modle", "model"),
    ({"model": {"name_or_pth": "x"}}, "model.name_or_pth", "name_or_path"),
    ({"eval": {"evry_steps": 3}}, "eval.evry_steps", "every_steps"),
    ({"rewards": [{"name": "boxed_integer", "wieght": 1}]}, "rewards[0].wieght", "weight"),
])
def test_unknown_keys_in_every_section_name_path_and_nearest(data, path, nearest):
    with pytest.raises(ConfigError) as info:
        recipe_from_dict(data)
    assert info.value.path == path
    assert repr(nearest) in str(info.value)


def test_wrong_types_are_named():
    with pytest.raises(ConfigError, match=r"seed: expected an integer"):
        recipe_from_dict({"seed": "abc"})
    recipe = recipe_from_dict({"trainer": {"learning_rate": "fast"}, "rewards": ["boxed_integer"]})
    with pytest.raises(ConfigError, match=r"trainer.learning_rate: expected a number"):
        prepare(recipe, PluginManager())


def test_unknown_plugin_lists_the_installed_ones():
    recipe = recipe_from_dict({"plugins": {"hapoo": {}}, "rewards": ["boxed_integer"]})
    pm = PluginManager()
    with pytest.raises(ConfigError) as info:
        prepare(recipe, pm)
    message = str(info.value)
    assert "plugins.hapoo" in message
    for name in pm.installed:
        if name != "builtin":
            assert name in message


def test_unknown_reward_and_algorithm_suggest_the_nearest():
    with pytest.raises(ConfigError, match="boxed_integer"):
        prepare(recipe_from_dict({"rewards": ["boxed_integr"]}), PluginManager())
    with pytest.raises(ConfigError, match="'grpo'"):
        prepare(recipe_from_dict({"trainer": {"algorithm": "gpro"}, "rewards": ["boxed_integer"]}), PluginManager())


def test_missing_data_file_names_its_path(tmp_path, capsys, tiny_model_path):
    missing = tmp_path / "nowhere" / "train.jsonl"
    path = write(tmp_path, f"""
        model: {{name_or_path: {tiny_model_path}}}
        data: {{train: {missing}}}
        trainer: {{algorithm: grpo, max_steps: 1, num_generations: 2, per_device_train_batch_size: 2}}
        rewards: [{{name: boxed_integer}}]
    """)
    status = main(["run", str(path), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert str(missing) in err.replace("\n", "")


def test_set_overrides_parse_yaml_values(tmp_path):
    path = write(tmp_path, "trainer: {algorithm: grpo, max_steps: 10}\n")
    recipe = load_recipe(path, ["trainer.max_steps=2", "eval.before=true", "data.options.max_operand=5"])
    assert recipe.trainer["max_steps"] == 2 and recipe.eval.before is True
    assert recipe.data.options == {"max_operand": 5}
    with pytest.raises(ConfigError, match="key.path=value"):
        load_recipe(path, ["trainer.max_steps"])


BROKEN_DIST = """\
Metadata-Version: 2.1
Name: trl-reason-broken
Version: 0.0.1
"""


def make_broken_plugin(root: Path) -> None:
    (root / "trl_reason_broken.py").write_text("raise RuntimeError('boom at import')\n")
    dist = root / "trl_reason_broken-0.0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(BROKEN_DIST)
    (dist / "entry_points.txt").write_text("[trl_reasoning]\nbroken = trl_reason_broken\n")


def test_plugin_whose_import_raises_is_named_with_entry_point_and_exception(tmp_path, monkeypatch):
    make_broken_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as info:
        PluginManager()
    message = str(info.value)
    assert "'broken'" in message and "broken = trl_reason_broken" in message and "boom at import" in message
    monkeypatch.setenv("TRL_REASONING_DISABLE_PLUGINS", "broken")
    assert "broken" not in PluginManager().installed


def test_broken_plugin_through_the_cli_exits_2(tmp_path):
    make_broken_plugin(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", "plugins"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 2
    assert "broken = trl_reason_broken" in proc.stderr and "RuntimeError: boom at import" in proc.stderr
    assert "Traceback" not in proc.stderr
