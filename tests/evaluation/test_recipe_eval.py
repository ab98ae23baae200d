"""A recipe's `eval` section drives evaluation: during training (`every_steps`, `after`) and through
`trl-reason eval --recipe`, along one code path, so both give the same numbers for the same weights; and every key
of the section either does something or is refused before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.run import prepare

FIXTURE = Path(__file__).parent / "fixtures" / "local_benchmark.jsonl"  # 6 rows, written for these tests


def _metrics_rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [row for row in rows if any(key.startswith("heldout/") for key in row)]


def _texts(results_dir: Path) -> dict[tuple[str, str], list[str]]:
    lines = (results_dir / "samples.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    return {(r["benchmark"], r["id"]): [s["text"] for s in r["samples"]] for r in records}


def _benchmark_metrics(results_file: Path) -> dict[str, dict]:
    data = json.loads(results_file.read_text())
    return {name: info["metrics"] for name, info in data["benchmarks"].items()}


def test_in_training_evaluation_equals_eval_recipe_on_each_checkpoint(make_recipe, run_recipe_steps, tiny_model_path,
                                                                       capsys):
    recipe = make_recipe(
        # the random model's rewards are all 0 (no advantage): the entropy bonus is what moves its weights
        trainer={"save_strategy": "steps", "save_steps": 1, "entropy_coef": 0.1, "learning_rate": 1e-2},
        eval={"every_steps": 1, "after": True, "heldout": True, "max_new_tokens": 8, "limit": 4,
              "benchmarks": [{"name": str(FIXTURE), "n": 2, "temperature": 1.0, "k": [1, 2], "limit": 6}]},
    )
    results = run_recipe_steps(recipe, steps=2)
    run_dir = Path(recipe.output_dir)

    # metrics.jsonl: both evaluations, the local file under its stem, the held-out split under the old names
    logged = {row["step"]: row for row in _metrics_rows(run_dir)}
    assert sorted(logged) == [1, 2]  # `after` at step 2 reuses the periodic evaluation of the same weights
    for row in logged.values():
        assert row["heldout/local_benchmark/num_problems"] == 6 and row["heldout/num_problems"] == 4
        assert {"heldout/local_benchmark/pass@2", "heldout/local_benchmark/avg@2", "heldout/accuracy",
                "heldout/lenient_accuracy", "heldout/mean_length", "heldout/average/accuracy"} <= set(row)
    # results.json: the numbers of each evaluated step and where its full results are
    assert results["after"] == {k[len("heldout/"):]: v for k, v in logged[2].items() if k.startswith("heldout/")}
    saved = json.loads((run_dir / "results.json").read_text())
    assert sorted(saved["eval"]["steps"]) == ["1", "2"]
    assert saved["eval"]["plan"]["benchmarks"]["local_benchmark"]["n"] == 2
    # `after` is the last weights, and the file says so (a best checkpoint comes from `eval --checkpoints`)
    assert saved["reported"]["checkpoint"] == "last" and saved["reported"]["global_step"] == 2
    assert saved["reported"]["grader"]["name"] == "trl_reasoning.grading"

    # the same protocol from the recipe file, on the saved checkpoints, through the command line
    status = main(["eval", "--recipe", str(run_dir / "recipe.resolved.yaml"), "--checkpoints", str(run_dir),
                   "--no-progress"])
    assert status == 0, capsys.readouterr()
    for step in (1, 2):
        in_training = run_dir / "eval" / f"step-{step}"
        offline = run_dir / "eval" / f"checkpoint-{step}"
        assert _benchmark_metrics(offline / "results.json") == _benchmark_metrics(in_training / "results.json")
        assert _texts(offline) == _texts(in_training)
        assert logged[step]["heldout/local_benchmark/mean_response_tokens"] == \
            _benchmark_metrics(offline / "results.json")["local_benchmark"]["mean_response_tokens"]
    # and the numbers follow the weights: the untrained model answers differently under the same protocol
    base_dir = run_dir / "base-eval"
    assert main(["eval", "--recipe", str(run_dir / "recipe.resolved.yaml"), "--model", tiny_model_path,
                 "--output-dir", str(base_dir), "--no-progress"]) == 0
    assert _texts(base_dir) != _texts(run_dir / "eval" / "step-2")


def test_eval_recipe_applies_the_recipes_protocol_and_flags_override_it(make_recipe, tiny_model_path, tmp_path):
    recipe = make_recipe(eval={"max_new_tokens": 5, "template": "plain", "user_template": "Q: {problem}\nA:",
                               "benchmarks": [{"name": str(FIXTURE), "limit": 3},
                                              {"name": "gsm8k", "n": 2, "temperature": 0.6, "k": [1, 2]}]})
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe.to_yaml())
    data_dir = Path(__file__).parent / "fixtures" / "data"
    out = tmp_path / "out"
    assert main(["eval", "--recipe", str(path), "--model", tiny_model_path, "--data-dir", str(data_dir),
                 "--output-dir", str(out), "--no-progress"]) == 0
    data = json.loads((out / "results.json").read_text())
    local, gsm8k = data["benchmarks"]["local_benchmark"], data["benchmarks"]["gsm8k"]
    assert local["num_problems"] == 3 and gsm8k["num_problems"] == 5
    settings = local["settings"]
    assert (settings["max_new_tokens"], settings["n"], settings["temperature"]) == (5, 1, 0.0)
    assert (gsm8k["settings"]["n"], gsm8k["settings"]["temperature"], gsm8k["k_list"]) == (2, 0.6, [1, 2])
    assert local["settings"]["template"] == "plain" and local["settings"]["user_template"] == "Q: {problem}\nA:"
    prompts = [json.loads(line)["prompt"] for line in (out / "samples.jsonl").read_text().splitlines()]
    assert prompts[0] == "Q: What is 12 + 30?\nA:"
    # a flag given on the command line wins over the recipe, for every benchmark
    flagged = tmp_path / "flagged"
    assert main(["eval", "--recipe", str(path), "--model", tiny_model_path, "--data-dir", str(data_dir),
                 "--benchmarks", str(FIXTURE), "--max-new-tokens", "3", "--output-dir", str(flagged),
                 "--no-progress"]) == 0
    data = json.loads((flagged / "results.json").read_text())
    assert list(data["benchmarks"]) == ["local_benchmark"]
    assert data["benchmarks"]["local_benchmark"]["settings"]["max_new_tokens"] == 3
    assert data["benchmarks"]["local_benchmark"]["num_problems"] == 3  # the recipe's own limit still applies


def test_plugin_eval_options_reach_inference_model_as_the_flag_does(make_recipe, run_recipe_steps, tmp_path,
                                                                     monkeypatch):
    """InRa's `eval.options: {inra_c: 0.5}` evaluates the two-stream model, in training and from the recipe, as
    `trl-reason eval --inra-c 0.5` does."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "inra")
    recipe = make_recipe(trainer={"algorithm": "sft", "per_device_train_batch_size": 4, "max_length": 64,
                                  "learning_rate": 1e-2},
                         plugins={"inra": {}}, rewards=[],
                         # sampled: the random model's greedy answers are the same for every c
                         eval={"after": True, "max_new_tokens": 8, "n": 2, "temperature": 1.0,
                               "benchmarks": [str(FIXTURE)], "options": {"inra_c": 0.5}})
    for key in ("num_generations", "max_completion_length", "temperature"):
        recipe.trainer.pop(key)
    run_recipe_steps(recipe, steps=2)
    run_dir = Path(recipe.output_dir)
    in_training = _texts(run_dir / "eval" / "step-2")
    common = ["--model", str(run_dir / "final"), "--benchmarks", str(FIXTURE), "--max-new-tokens", "8", "--n", "2",
              "--temperature", "1.0",
              "--no-progress"]
    assert main(["eval", "--recipe", str(run_dir / "recipe.resolved.yaml"), "--model", str(run_dir / "final"),
                 "--output-dir", str(tmp_path / "recipe"), "--no-progress"]) == 0
    assert main(["eval", *common, "--inra-c", "0.5", "--output-dir", str(tmp_path / "flag")]) == 0
    assert main(["eval", *common, "--output-dir", str(tmp_path / "plain")]) == 0
    rename = {("local_benchmark", key[1]): texts for key, texts in _texts(tmp_path / "flag").items()}
    assert _texts(tmp_path / "recipe") == in_training == rename
    plain = {("local_benchmark", key[1]): texts for key, texts in _texts(tmp_path / "plain").items()}
    assert plain != in_training  # c = 1 (the adapter model alone) answers otherwise: the option took effect


# --- refused before any model loads ------------------------------------------------------------------------------


def _prepare(make_recipe, **sections):
    return prepare(make_recipe(**sections))


@pytest.mark.parametrize(("sections", "path", "words"), [
    ({"eval": {"benchmarks": ["math5000"]}}, "eval.benchmarks[0]", "unknown benchmark 'math5000'"),
    ({"eval": {"benchmarks": [{"name": "aime24", "n": 4, "k": [1, 8]}]}}, "eval.benchmarks[0].k", "k=8"),
    ({"eval": {"n": 2, "temperature": 0.6, "k": [4], "benchmarks": ["aime24"]}}, "eval.k", "n is 2, from eval.n"),
    ({"eval": {"benchmarks": [{"name": "math500", "n": 4}]}}, "eval.benchmarks[0].n", "identical samples"),
    ({"eval": {"benchmarks": [{"name": "math500", "top_p": 0.9}]}}, "eval.benchmarks[0].top_p", "greedily"),
    ({"eval": {"benchmarks": [{"name": "gsm8k", "max_tokens": 9}]}}, "eval.benchmarks[0].max_tokens",
     "did you mean 'max_new_tokens'"),
    ({"eval": {"benchmarks": [{"name": "gsm8k", "template": "qwen"}]}}, "eval.benchmarks[0].template",
     "unknown template"),
    ({"eval": {"options": {"temperature": 0.6}, "benchmarks": ["gsm8k"]}}, "eval.options.temperature",
     "not an eval option of any installed plugin"),
    ({"eval": {"options": {"inra_c": 0.5}, "benchmarks": ["gsm8k"]}}, "eval.options.inra_c",
     "which this recipe does not activate"),
    ({"data": {"train": str(FIXTURE), "options": {}}, "eval": {"every_steps": 20}}, "eval.every_steps", "nothing to evaluate"),
    ({"data": {"train": str(FIXTURE), "options": {}}, "eval": {"max_new_tokens": 64}}, "eval.max_new_tokens", "nothing to evaluate"),
    ({"data": {"train": str(FIXTURE), "options": {}}, "eval": {"heldout": True, "benchmarks": ["gsm8k"]}}, "eval.heldout",
     "no held-out split"),
    ({"eval": {"benchmarks": ["gsm8k", "gsm8k"]}}, "eval.benchmarks[1]", "a second benchmark named 'gsm8k'"),
    ({"eval": {"max_new_tokens": 9, "benchmarks": [{"name": "gsm8k", "max_new_tokens": 7}]}}, "eval.max_new_tokens",
     "applies to none"),
    ({"data": {"train": str(FIXTURE), "options": {}}, "eval": {"options": {"inra_c": 0.5}}}, "eval.options", "nothing to evaluate"),
])
def test_bad_eval_sections_are_refused_with_the_key_path(make_recipe, sections, path, words):
    with pytest.raises(ConfigError) as info:
        _prepare(make_recipe, **sections)
    assert info.value.path == path and words in info.value.message, str(info.value)


def test_the_command_line_exits_2_before_any_model_loads(tmp_path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("trl_reasoning.models._pretrained", no_model)  # every loader goes through it
    cases = {
        "unknown": {"benchmarks": ["math5000"]},
        "k_above_n": {"benchmarks": [{"name": "aime24", "n": 2, "k": [1, 4]}]},
        "dead_key": {"options": {"temperature": 0.6}, "benchmarks": ["gsm8k"]},
    }
    for name, section in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"model": {"name_or_path": "nowhere/never-loaded"},
                                        "data": {"train": "embedded:arithmetic"},
                                        "rewards": [{"name": "boxed_integer"}], "eval": section}))
        for argv in (["run", str(path)], ["eval", "--recipe", str(path)]):
            assert main(argv) == 2, (name, argv)
            shown = capsys.readouterr()
            assert "eval." in shown.out + shown.err, (name, argv, shown)


def test_a_recipe_without_benchmarks_keeps_the_held_out_split(make_recipe):
    plan = _prepare(make_recipe, eval={"after": True}).eval_plan
    [heldout] = plan.benchmarks
    assert heldout.label == "heldout" and heldout.limit == 50 and heldout.settings["max_new_tokens"] == 64
    assert heldout.settings["template"] == "chat" and heldout.settings["n"] == 1  # the data's own prompt, greedy
    both = _prepare(make_recipe, eval={"heldout": True, "benchmarks": [str(FIXTURE)]}).eval_plan
    assert [b.label for b in both.benchmarks] == ["heldout", "local_benchmark"]


def test_settings_resolve_benchmark_then_section_then_protocol(make_recipe):
    plan = _prepare(make_recipe, eval={
        "max_new_tokens": 100, "temperature": 0.7, "top_p": 0.95, "n": 4,
        "benchmarks": ["aime24", {"name": "gsm8k", "max_new_tokens": 7, "n": 2, "k": [2]}, {"name": "math500",
                                                                                           "temperature": 0.0,
                                                                                           "n": 1}]}).eval_plan
    aime, gsm8k, math500 = plan.benchmarks
    assert (aime.settings["n"], aime.settings["max_new_tokens"], aime.settings["k_list"]) == (4, 100, [1, 4])
    assert (gsm8k.settings["n"], gsm8k.settings["max_new_tokens"], gsm8k.settings["k_list"]) == (2, 7, [2])
    assert (math500.settings["temperature"], math500.settings["top_p"]) == (0.0, 0.95)
    assert aime.settings["template"] == "qwen25-math-cot"  # the registry protocol's prompt when none is given


def test_recipe_from_yaml_round_trips_the_benchmark_entries(make_recipe):
    recipe = make_recipe(eval={"benchmarks": ["gsm8k", {"name": "aime24", "n": 8, "temperature": 0.6}]})
    again = recipe_from_dict(yaml.safe_load(recipe.to_yaml()))
    assert [(b.name, b.n, b.temperature) for b in again.eval.benchmarks] == [("gsm8k", None, None),
                                                                              ("aime24", 8, 0.6)]
