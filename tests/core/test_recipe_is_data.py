"""A recipe is data (issue #21): a dotted import path runs nothing unless the user allows it on the command line,
and then only a callable with the reward signature is taken; a YAML alias bomb or an oversized file is refused in
milliseconds, in little memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import MAX_RECIPE_BYTES, recipe_from_dict
from trl_reasoning.run import prepare
from trl_reasoning.testing import TINY_TRAINER


def code_running_recipe(tmp_path: Path, model_dir: str) -> tuple[Path, Path]:
    marker = tmp_path / "created-by-the-recipe"
    recipe = {
        "model": {"name_or_path": model_dir},
        "trainer": dict(TINY_TRAINER),
        "rewards": [{"name": "subprocess.call", "config": {"args": f"touch {marker}", "shell": True}}],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path, marker


@pytest.mark.parametrize("extra, expected", [
    ([], "'subprocess.call' is an import path, and a recipe is data"),
    (["--allow-imports", "trl_reasoning,my_lab"], "'subprocess.call' is an import path, and a recipe is data"),
    (["--allow-imports"], "'subprocess.call' is not a reward"),
    (["--allow-imports", "subprocess"], "'subprocess.call' is not a reward"),
])
def test_a_recipe_cannot_run_a_shell_command(extra, expected, tmp_path, tiny_model_path, capsys):
    path, marker = code_running_recipe(tmp_path, tiny_model_path)
    status = main(["run", str(path), "--output-dir", str(tmp_path / "out"), *extra])
    message = " ".join(capsys.readouterr().err.split())
    assert status == 2
    assert "rewards[0].name" in message and expected in message, message
    assert not marker.exists(), "the recipe ran a shell command"
    assert os.environ.get("TRL_REASONING_ALLOW_IMPORTS") is None  # the permission does not outlive the command


def test_allowed_module_with_the_reward_signature_is_taken(tmp_path, monkeypatch):
    module = tmp_path / "my_lab_rewards.py"
    module.write_text(textwrap.dedent("""
        IMPORTED = True

        def short_is_good(prompts, completions, completion_ids=None, **kwargs):
            return [1.0 / (1 + len(ids)) for ids in completion_ids]

        def not_a_reward(text):
            return 0.0
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    recipe = recipe_from_dict({"rewards": [{"name": "my_lab_rewards.short_is_good"}]})
    with pytest.raises(ConfigError, match=r"rewards\[0\]\.name: 'my_lab_rewards.short_is_good' is an import path"):
        prepare(recipe, PluginManager())
    assert "my_lab_rewards" not in sys.modules  # refused before importing
    prepared = prepare(recipe, PluginManager(), allow_imports="my_lab_rewards")
    assert prepared.reward_specs[0][1].__name__ == "short_is_good"
    bad = recipe_from_dict({"rewards": [{"name": "my_lab_rewards:not_a_reward"}]})
    with pytest.raises(ConfigError, match="is not a reward"):
        prepare(bad, PluginManager(), allow_imports="my_lab_rewards")
    with_config = recipe_from_dict({"rewards": [{"name": "my_lab_rewards.short_is_good", "config": {"x": 1}}]})
    with pytest.raises(ConfigError, match=r"rewards\[0\]\.config: .* takes no config"):
        prepare(with_config, PluginManager(), allow_imports="*")


def test_a_registered_rewards_own_class_path_needs_no_permission():
    """The recipes that name ``trl_reasoning.rewards.boxed_integer.BoxedIntegerReward`` keep working: it is the registered
    ``boxed_integer`` factory, so nothing is imported on the recipe's say-so."""
    recipe = recipe_from_dict({"rewards": [{"name": "trl_reasoning.rewards.boxed_integer.BoxedIntegerReward",
                                            "config": {"lenient_value": 0.5}}]})
    prepared = prepare(recipe, PluginManager())
    assert prepared.reward_specs[0][1] is prepared.pm.rewards()["boxed_integer"]


BOMB_LEVELS = 9  # 9 ** 9 = 387,420,489 strings once expanded


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, BOMB_LEVELS):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def few_alias_chain() -> str:
    """40 levels, two aliases each (80 aliases would already be refused; 2 ** 40 values): the node bound."""
    lines = ["c0: &c0 [x, x]"] + [f"c{i}: &c{i} [*c{i - 1}, *c{i - 1}]" for i in range(1, 30)]
    return "\n".join(lines) + "\n"


# Peak memory from /proc/self/status VmHWM (this process's own high-water mark; `ru_maxrss` would carry over the
# forking pytest process's size across exec).
MEASURE = textwrap.dedent("""
    import json, sys, time

    def peak_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    from trl_reasoning.config.schema import ConfigError
    from trl_reasoning.config.recipe import load_recipe
    started = time.perf_counter()
    try:
        load_recipe(sys.argv[1])
        outcome = "loaded"
    except ConfigError as exc:
        outcome = str(exc)
    print(json.dumps({"seconds": time.perf_counter() - started, "outcome": outcome,
                      "peak_rss_mb": peak_mb()}))
""")


@pytest.mark.parametrize("text, expected", [
    (billion_laughs(), "expands to more than"),
    (few_alias_chain(), "expands to more than"),
    ("a: &a [x]\nb: &b [*a, *b]\n", "recursive alias"),
    ("x: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(100)), "more than 64 aliases"),
    ("x:\n" + "- 1\n" * 240_000, "expands to more than"),  # 960 kB, under the size limit, no alias at all
])
def test_alias_bombs_are_refused_in_milliseconds_and_little_memory(text, expected, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    assert expected in measured["outcome"], measured
    assert measured["seconds"] < 1.0, measured
    assert measured["peak_rss_mb"] < 200, measured


def test_alias_bomb_through_the_console_script_exits_2(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    proc = subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "expands to more than" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_oversized_recipe_and_override_are_refused(tmp_path, capsys):
    path = tmp_path / "huge.yaml"
    path.write_text("description: '" + "x" * (MAX_RECIPE_BYTES + 10) + "'\n")
    assert main(["run", str(path)]) == 2
    assert "is refused beyond" in capsys.readouterr().err
    small = tmp_path / "small.yaml"
    small.write_text("seed: 1\n")
    assert main(["run", str(small), "--set", "description=" + "y" * (MAX_RECIPE_BYTES + 10)]) == 2
    assert "larger than" in capsys.readouterr().err


def test_trust_remote_code_is_the_users_to_grant(monkeypatch):
    recipe = recipe_from_dict({"model": {"trust_remote_code": True}, "rewards": ["boxed_integer"]})
    with pytest.raises(ConfigError, match=r"model.trust_remote_code: .* --trust-remote-code"):
        prepare(recipe, PluginManager())
    monkeypatch.setenv("TRL_REASONING_TRUST_REMOTE_CODE", "1")  # what `trl-reason run --trust-remote-code` sets
    assert prepare(recipe, PluginManager()).recipe.model.trust_remote_code is True
