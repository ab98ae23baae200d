"""Command-line snags a plugin author hit: ``--set`` addresses list items (``rewards[0].weight``), keeps yes/no/on/off
as strings and forces a string when quoted, and a wrong index exits 2 naming it; ``trainer.use_vllm: true`` without
vLLM is refused with the two ways out before any model loads."""

from __future__ import annotations

import pytest

from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.config.recipe import apply_overrides, load_recipe, override_path

RECIPE = {"rewards": [{"name": "correctness", "weight": 1.0}, {"name": "format"}], "trainer": {}}


@pytest.mark.parametrize("override, path, value", [
    ("rewards[1].weight=0.5", ["rewards", 1, "weight"], 0.5),
    ("trainer.save_strategy=no", ["trainer", "save_strategy"], "no"),
    ("trainer.save_strategy=off", ["trainer", "save_strategy"], "off"),
    ("trainer.bf16=true", ["trainer", "bf16"], True),
    ('trainer.run_name="42"', ["trainer", "run_name"], "42"),
    ("trainer.run_name=42", ["trainer", "run_name"], 42),
    ("rewards[0].config.correct_value=2", ["rewards", 0, "config", "correct_value"], 2),
])
def test_override_table(override, path, value):
    result = apply_overrides(RECIPE, [override])
    node = result
    for key in path:
        node = node[key]
    assert node == value and type(node) is type(value)
    assert RECIPE["rewards"][1] == {"name": "format"}  # the caller's recipe is not changed


@pytest.mark.parametrize("override, key_path, words", [
    ("rewards[2].weight=1", "rewards[2]", "out of range"),
    ("trainer[0]=1", "trainer[0]", "not a list"),
    ("rewards.weight=1", "rewards.weight", "non-mapping"),
    ("trainer..x=1", "trainer..x", "key.path=value"),
])
def test_bad_overrides_name_their_path(override, key_path, words):
    with pytest.raises(ConfigError) as error:
        apply_overrides(RECIPE, [override])
    assert error.value.path == key_path
    assert words in str(error.value)


def test_override_path_parts():
    assert override_path("rewards[10].config.x") == ["rewards", 10, "config", "x"]
    assert override_path("eval.benchmarks[0][1]") == ["eval", "benchmarks", 0, 1]


def test_list_item_override_through_the_command_line(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("rewards:\n  - {name: correctness, weight: 1.0}\n", encoding="utf-8")
    loaded = load_recipe(recipe, ["rewards[0].weight=0.25", "trainer.save_strategy=no"])
    assert loaded.rewards[0].weight == 0.25 and loaded.trainer["save_strategy"] == "no"
    status = main(["run", str(recipe), "--set", "rewards[3].weight=0.5", "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "rewards[3]" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_use_vllm_without_vllm_is_refused_before_any_load(tmp_path, capsys, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name_or_path: /nonexistent/model}\nrewards:\n  - {name: correctness}\n"
                      "trainer: {use_vllm: true}\n", encoding="utf-8")
    status = main(["run", str(recipe), "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "trainer.use_vllm" in err and "use_vllm=false" in err and "vllm]" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
