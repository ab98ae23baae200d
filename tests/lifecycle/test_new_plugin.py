"""`trl-reason new-plugin` writes a package that installs with pip, passes its own generated tests (a hook test on
a reward table and a 2-step recipe run), and is uninstalled again (slow: pip and a pytest subprocess); the default
run checks the generated package in this process."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

from trl_reasoning.cli.main import main


def test_generated_plugin_hook_test_passes_in_process(tmp_path, monkeypatch, make_rollout_batch, plugin_context):
    name = "lc_generated"
    assert main(["new-plugin", name, "--dir", str(tmp_path)]) == 0
    root = tmp_path / name
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "README.md", "conftest.py", "pyproject.toml", "tests/test_plugin.py", f"trl_reason_{name}/__init__.py",
        f"trl_reason_{name}/plugin.py"]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "trl-reason-lc-generated"
    assert pyproject["project"]["entry-points"]["trl_reasoning"] == {name: f"trl_reason_{name}.plugin"}
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(root / "tests"))
    generated_tests = importlib.import_module("test_plugin")
    try:
        generated_tests.test_on_rewards_keeps_a_moving_average(make_rollout_batch, plugin_context)
        plugin = importlib.import_module(f"trl_reason_{name}.plugin")
        with plugin_context(name, plugin) as pm:
            assert sorted(pm.describe()[-1]["hooks"]) == ["load_plugin_state", "metrics", "model_card_sections",
                                                         "on_rewards", "plugin_state"]
            assert pm.hook.model_card_sections(recipe=None, results=None)[0][0].startswith(f"## {name}")
    finally:
        sys.modules.pop("test_plugin", None)


@pytest.mark.slow
def test_generated_plugin_installs_and_passes_its_own_tests(tmp_path):
    name = f"lc_scaffold_{os.getpid()}"
    distribution = f"trl-reason-{name.replace('_', '-')}"
    assert main(["new-plugin", name, "--dir", str(tmp_path)]) == 0
    root = tmp_path / name
    assert (root / "pyproject.toml").read_text().count(f'{name} = "trl_reason_{name}.plugin"') == 1
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "--quiet", str(root)], check=True,
                   capture_output=True, text=True)
    try:
        env = {**os.environ, "TRL_REASONING_LOAD_PLUGINS": name}
        env.pop("TRL_REASONING_TEST_MODEL", None)
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
                               cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-4000:]
        assert "2 passed" in tests.stdout
    finally:
        subprocess.run([*pip, "uninstall", "--yes", "--quiet", distribution], check=True, capture_output=True)
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version(distribution)


@pytest.mark.parametrize("bad", ["My-Plugin", "1plugin", "with space", ""])
def test_new_plugin_rejects_unusable_names(tmp_path, bad):
    assert main(["new-plugin", bad, "--dir", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())


def test_new_plugin_refuses_to_overwrite(tmp_path):
    assert main(["new-plugin", "twice", "--dir", str(tmp_path)]) == 0
    assert main(["new-plugin", "twice", "--dir", str(tmp_path)]) == 2
    assert main(["new-plugin", "twice", "--dir", str(tmp_path), "--force"]) == 0
