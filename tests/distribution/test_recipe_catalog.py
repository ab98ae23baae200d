"""Recipes by name, through the CLI a user types: `trl-reason recipes [--json]`, `trl-reason run NAME` from any
directory, `trl-reason cp NAME DEST`; a path still works as before. (The installed-wheel side of the same is
test_wheel_install.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distribution_helpers import ROOT, repository_recipes

from trl_reasoning.config.catalog import recipe_name, resolve_recipe
from trl_reasoning.cli.main import main


@pytest.mark.parametrize("text, name", [
    ("quickstart", "quickstart"), ("quickstart.yaml", "quickstart"), ("recipes/hapo/cpu.yaml", "hapo/cpu"),
    ("one-shot-rlvr/qwen2.5-math-1.5b-pi1", "one-shot-rlvr/qwen2.5-math-1.5b-pi1"), (" hapo/cpu ", "hapo/cpu"),
])
def test_recipe_name(text, name):
    assert recipe_name(text) == name


def test_recipes_json_lists_every_recipe_on_stdout(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["recipes", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert {row["name"] for row in rows} == repository_recipes()
    assert all(Path(row["path"]).is_file() and row["purpose"] for row in rows)
    assert err == ""


def test_recipes_table_goes_to_stdout_one_line_a_recipe(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["recipes"]) == 0
    out, err = capsys.readouterr()
    first_words = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert first_words == repository_recipes()  # `trl-reason recipes | grep hapo` finds every hapo recipe
    assert err == ""


def test_plugins_table_goes_to_stdout(capsys):
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert any(line.split()[:1] == ["hapo"] for line in out.splitlines()), out
    assert "rewards:" in out and err == ""


def test_run_resolves_a_name_from_any_directory(capsys, monkeypatch, tmp_path):
    """The name reaches validation (the wrong key is reported, before any model loads), so it resolved."""
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe("one-shot-rlvr/qwen2.5-math-1.5b-pi1") == ROOT / "recipes/one-shot-rlvr/qwen2.5-math-1.5b-pi1.yaml"
    assert main(["run", "quickstart", "--set", "trainer.max_stepz=2"]) == 2
    err = capsys.readouterr().err
    assert "max_stepz" in err and "not found" not in err


def test_run_with_an_unknown_name_says_where_the_names_are(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "hapo/cpux"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "recipe file not found: hapo/cpux" in err and "hapo/cpu" in err and "trl-reason recipes" in err


def test_a_path_still_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").write_text("seed: 1\n")
    assert resolve_recipe("quickstart") == Path("quickstart")


def test_cp_copies_a_recipe_out_and_refuses_to_overwrite(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["cp", "hapo/cpu", "mine.yaml"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == "mine.yaml"
    assert (tmp_path / "mine.yaml").read_text() == (ROOT / "recipes/hapo/cpu.yaml").read_text()
    (tmp_path / "mine.yaml").write_text("# edited\n")
    assert main(["cp", "hapo/cpu", "mine.yaml"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "mine.yaml").read_text() == "# edited\n"
    assert main(["cp", "hapo/cpu", "mine.yaml", "--force"]) == 0
    (tmp_path / "folder").mkdir()
    assert main(["cp", "quickstart", "folder"]) == 0
    assert (tmp_path / "folder" / "quickstart.yaml").is_file()
    assert main(["cp", "no-such/recipe", "x.yaml"]) == 2
    assert not (tmp_path / "x.yaml").exists()


def test_test_model_word_tiny_is_the_tiny_test_model(monkeypatch, tiny_model_path):
    """The recipe keeps the word; preparing the run (which may build the model) resolves it."""
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run.prepare import resolve_models

    monkeypatch.setenv("TRL_REASONING_CACHE", str(Path(tiny_model_path).parent))
    monkeypatch.setenv("TRL_REASONING_TEST_MODEL", "tiny")
    recipe = load_recipe(ROOT / "recipes/quickstart.yaml")
    assert recipe.model.name_or_path == recipe.test_model == "tiny"
    resolve_models(recipe)
    assert recipe.model.name_or_path == recipe.test_model == tiny_model_path
    monkeypatch.delenv("TRL_REASONING_TEST_MODEL")
    recipe = load_recipe(ROOT / "recipes/quickstart.yaml", ["test_model=tiny"])
    resolve_models(recipe)
    assert recipe.model.name_or_path == tiny_model_path
